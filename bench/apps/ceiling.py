"""The ceiling: a bare ASGI app that reads the body and answers OK, storing nothing.

It runs on the same HTTP server with the same options as `delivrd serve`, so the
ratio delivrd/ceiling is what delivrd's own work costs, not the HTTP server's.
"""

ACK = b'{"result":0,"errmsg":"OK"}'
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ACK)).encode())],
}
_BODY = {"type": "http.response.body", "body": ACK}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read the whole body, as any receiver must
        message = await receive()
        more = message.get("more_body", False)
    await send(_START)
    await send(_BODY)
