from portable_fn import function, queue


@function(trigger=queue("jobs", batch_size=50, fifo=True))
def work(event):
    pass
