"""The built-in local provider: the dev host, local queues, topics, buckets and timers, and a local deploy target."""
