"""One answer becomes a Grade: the GradingService, its cache, the candidate's view, token estimates."""
