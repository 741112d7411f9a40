"""Finding faces in images: the detector the app runs."""
