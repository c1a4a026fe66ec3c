"""An app that splits its users between the variants of an experiment."""
