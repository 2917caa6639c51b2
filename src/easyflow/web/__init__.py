"""Static assets the app serves: the website chat widget and the demo shop page."""
