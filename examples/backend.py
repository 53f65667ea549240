"""A small example backend for the example gateway: pets and orders, in memory."""

from __future__ import annotations

import argparse
import itertools

from aiohttp import web

_PETS = {"1": {"id": 1, "type": "dog", "price": 249.99},
         "2": {"id": 2, "type": "cat", "price": 124.99},
         "3": {"id": 3, "type": "fish", "price": 0.99}}
_IDS = itertools.count(4)


async def list_pets(request: web.Request) -> web.Response:
    kind = request.query.get("type")
    pets = [p for p in _PETS.values() if kind is None or p["type"] == kind]
    return web.json_response(pets)


async def get_pet(request: web.Request) -> web.Response:
    pet = _PETS.get(request.match_info["pet_id"])
    if pet is None:
        return web.json_response({"message": "no such pet"}, status=404)
    return web.json_response(pet)


async def add_pet(request: web.Request) -> web.Response:
    body = await request.json()
    pet_id = str(next(_IDS))
    _PETS[pet_id] = {"id": int(pet_id), **body}
    return web.json_response(_PETS[pet_id], status=201)


async def orders(request: web.Request) -> web.Response:
    return web.json_response([{"id": "o-1", "pet": 1}])


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"method": request.method, "path": request.path,
                              "query": request.query_string,
                              "headers": dict(request.headers)})


def app() -> web.Application:
    application = web.Application()
    application.add_routes([
        web.get("/pets", list_pets), web.post("/pets", add_pet),
        web.get("/pets/{pet_id}", get_pet), web.get("/orders", orders),
        web.route("*", "/{tail:.*}", echo),
    ])
    return application


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9001)
    web.run_app(app(), host="127.0.0.1", port=parser.parse_args().port, print=None)
