"""The Transfer learning page's tabs: your classes, training, trying the network and the export."""
