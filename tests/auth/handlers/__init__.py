"""User code for the auth tests: real modules, imported the way an app's modules are."""
