"""The Runs page: every tracked run of the learner (an instructor: the class), filtered, compared, exported."""
