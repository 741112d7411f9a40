"""Media in and out: images, video files, live frames, tracking, drawing, export."""
