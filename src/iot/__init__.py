"""IoT tier: capture frames from cameras, files, streams or image folders and push them to the edge."""
