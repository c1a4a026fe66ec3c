"""The anchor of benchmarks/azure_functions.py: hand-written Python v2 functions doing the portable ones' work."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
FULFILLED: list[int] = []


@app.function_name(name="create_order")
@app.route(route="orders", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def create_order(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    order = json.loads(req.get_body())
    total = sum(line["quantity"] for line in order["lines"])
    body = json.dumps({"id": order["id"], "total": total}, separators=(",", ":"))
    return func.HttpResponse(body, status_code=201, mimetype="application/json")


@app.function_name(name="fulfil")
@app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
def fulfil(msg: func.QueueMessage, context: func.Context) -> None:
    order = json.loads(msg.get_body())
    FULFILLED.append(sum(line["quantity"] for line in order["lines"]))


@app.function_name(name="on_order_placed")
@app.event_grid_trigger(arg_name="event")
def on_order_placed(event: func.EventGridEvent, context: func.Context) -> None:
    order = event.get_json()
    FULFILLED.append(sum(line["quantity"] for line in order["lines"]))


@app.function_name(name="fulfil_service_bus")
@app.service_bus_queue_trigger(arg_name="msg", queue_name="orders", connection="ServiceBusConnection")
def fulfil_service_bus(msg: func.ServiceBusMessage, context: func.Context) -> None:
    order = json.loads(msg.get_body())
    FULFILLED.append(sum(line["quantity"] for line in order["lines"]))
