from portable_fn import function, topic


@function(trigger=topic("a"))
def handle(event):
    pass
