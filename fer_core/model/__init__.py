"""The emotion model: preprocessing, network architecture, classifier, ensembles."""
