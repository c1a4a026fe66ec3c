from portable_fn import function, topic


@function(trigger=topic("b"))
def handle(event):
    pass
