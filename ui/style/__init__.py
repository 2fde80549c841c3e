"""The neural style transfer page's tabs: the transfer itself, the costs and Gram matrices, what each cost keeps."""
