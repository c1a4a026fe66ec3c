"""Functions that send to topics and queues."""
