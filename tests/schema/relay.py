"""A loopback TCP relay to berthd's Unix socket, for clients that speak only TCP (schemathesis).

usage: relay.py SOCKET PORT — listens on 127.0.0.1:PORT until killed."""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(sock, port):
    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_unix_connection(sock)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
