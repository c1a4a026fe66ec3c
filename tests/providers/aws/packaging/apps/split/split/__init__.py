"""An app whose functions import different modules: packaged one zip per function."""
