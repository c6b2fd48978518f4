"""Commands that manage the manager's connections (§12.2, §12.3, §12.5):
``connect``, ``launch``, ``status``, ``kill`` and ``select``."""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import replace

from distant_auth import AuthHandler
from distant_cli.auth import JsonAuth, JsonReader, PromptAuth
from distant_cli.cache import read_selected, write_selected
from distant_cli.errors import CliError
from distant_cli.output import eprint, print_json, print_out
from distant_cli.session import Globals, connect_manager
from distant_codec import (
    CLI_SELECT,
    CodecError,
    Destination,
    Selected,
    SelectPrompt,
    format_options,
    parse_options,
)
from distant_manager.blocking_client import BlockingManagerClient, ManagerUnavailable

__all__ = ["connect", "launch", "status", "kill", "select", "parse_options_flag"]


def parse_options_flag(text: str | None) -> dict[str, str]:
    """``--options`` as a Map-string (§9.2)."""
    try:
        return parse_options(text or "")
    except CodecError as exc:
        raise CliError(f"bad --options: {exc}") from None


def _handlers(g: Globals) -> tuple[AuthHandler | None, AuthHandler]:
    """The manager-socket handler and the relay handler for ``g.format``."""
    if g.json:
        reader = JsonReader()
        return JsonAuth(reader, manager=True), JsonAuth(reader)
    return None, PromptAuth()


def _parse_destination(text: str) -> Destination:
    try:
        return Destination.parse(text)
    except CodecError as exc:
        raise CliError(f"bad destination {text!r}: {exc}") from None


def same_destination(known: str, wanted: str, default_scheme: str) -> bool:
    """Whether the manager's ``known`` destination is the one the user asks for: the same
    text, case-insensitively, once the default scheme is filled in and any password (the
    manager does not list keys) is left out."""

    def forms(text: str) -> set[str]:
        out = {text.strip().lower()}
        try:
            dest = Destination.parse(text)
        except CodecError:
            return out
        if dest.scheme is None:
            dest = replace(dest, scheme=default_scheme)
        out.add(str(dest).lower())
        out.add(str(replace(dest, password=None)).lower())
        return out

    return bool(forms(known) & forms(wanted))


def connect(g: Globals, destination: str, options: str | None, *, new: bool = False) -> int:
    """``distant connect DEST``: connect (or reuse a connection) and select it."""
    _parse_destination(destination)
    opts = parse_options_flag(
        options if options is not None else g.setting("client", "connect", "options")
    )
    manager_auth, relay_auth = _handlers(g)
    client = connect_manager(g, auth=manager_auth)
    try:
        reused = False
        cid = 0
        if not new:
            for known_id, known in sorted(client.list().items()):
                if same_destination(known, destination, "distant"):
                    cid, reused = known_id, True
                    break
        if not reused:
            try:
                cid = client.connect_to(destination, opts, relay_auth)
            except Exception as exc:
                raise CliError("failed to connect to the server") from exc
    finally:
        client.close()
    write_selected(g.cache, cid)
    if g.json:
        print_json({"type": "connected", "id": cid, "reused": reused})
    else:
        print_out(str(cid))
    return 0


def _is_global(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: keep the one the user typed


def launch(
    g: Globals,
    destination: str,
    options: str | None,
    *,
    distant_bin: str | None = None,
    bind_server: str | None = None,
    distant_args: str | None = None,
) -> int:
    """``distant launch DEST``: have the manager start a server, then connect to it."""
    dest = _parse_destination(destination)
    if dest.scheme is None:
        dest = replace(dest, scheme="ssh")
    opts = parse_options_flag(
        options if options is not None else g.setting("client", "launch", "options")
    )
    defaults = {
        "distant.bin": g.setting("client", "launch", "distant", "bin"),
        "distant.bind_server": g.setting("client", "launch", "distant", "bind_server"),
        "distant.args": g.setting("client", "launch", "distant", "args"),
    }
    flags = {"distant.bin": distant_bin, "distant.bind_server": bind_server,
             "distant.args": distant_args}  # fmt: skip
    for key, value in flags.items():
        if value is not None:
            opts[key] = value
        elif key not in opts and defaults[key] is not None:
            opts[key] = str(defaults[key])
    raw = destination if "://" in destination else f"ssh://{destination}"
    manager_auth, relay_auth = _handlers(g)
    client = connect_manager(g, auth=manager_auth)
    try:
        try:
            launched = client.launch(raw, opts, relay_auth)
        except Exception as exc:
            raise CliError("failed to launch the server") from exc
        new_dest = _parse_destination(launched)
        if not _is_global(new_dest.host):
            new_dest = replace(new_dest, host=dest.host)
        try:
            cid = client.connect_to(str(new_dest), {}, relay_auth)
        except Exception as exc:
            raise CliError("failed to connect to the launched server") from exc
    finally:
        client.close()
    write_selected(g.cache, cid)
    if g.json:
        print_json({"type": "launched", "id": cid})
    else:
        print_out(str(cid))
    return 0


def status(g: Globals, connection: int | None) -> int:
    """``distant status [ID]``: the manager's connections, or one connection's details.
    Never starts a manager."""
    if connection is None and g.json:
        try:
            client = BlockingManagerClient.connect(g.socket_paths(), None)
        except ManagerUnavailable:
            print_json({})
            return 0
    else:
        client = connect_manager(g, auto_start=False)
    try:
        if connection is not None:
            if connection not in client.list():
                raise CliError(f"no connection with id {connection}", hint="see `distant status`")
            info = client.info(connection)
            if g.json:
                print_json({"id": info.id, "destination": info.destination,
                            "options": format_options(dict(info.options))})  # fmt: skip
            else:
                print_out(f"Connection {info.id}:")
                print_out(f"Host: {info.destination}")
                print_out(f"Options: {format_options(dict(info.options))}")
            return 0
        connections = client.list()
    finally:
        client.close()
    if g.json:
        print_json({str(cid): dest for cid, dest in sorted(connections.items())})
        return 0
    selected = read_selected(g.cache)
    eprint("Manager: running")
    if not connections:
        eprint("No active connections.")
        return 0
    eprint("Connections:")
    for cid, dest in sorted(connections.items()):
        eprint(f"{'*' if cid == selected else ' '} {cid} -> {dest}")
    return 0


def kill(g: Globals, connection: int | None) -> int:
    """``distant kill [ID]``: close a connection; resets the selection if it was selected."""
    if connection is None and g.json:
        raise CliError("kill needs a connection id with --format json")
    manager_auth, _ = _handlers(g)
    client = connect_manager(g, auth=manager_auth)
    try:
        connections = client.list()
        selected = read_selected(g.cache)
        if connection is None:
            if selected in connections:
                connection = selected
            elif len(connections) == 1:
                (connection,) = connections
            elif not connections:
                raise CliError("no active connections")
            else:
                raise CliError(
                    f"{len(connections)} connections and none selected",
                    hint="pass the id to kill: `distant kill ID`",
                )
        if connection not in connections:
            raise CliError(f"no connection with id {connection}", hint="see `distant status`")
        destination = connections[connection]
        client.kill(connection)
        remaining = {cid for cid in connections if cid != connection}
    finally:
        client.close()
    if connection == selected:
        write_selected(g.cache, next(iter(remaining)) if len(remaining) == 1 else 0)
    if g.json:
        print_json({"type": "ok", "id": connection})
    else:
        eprint(f"Killed {connection} -> {destination}")
    return 0


def _pick(choices: list[str], current: int) -> int:
    """The shell picker: a numbered list on stderr, the answer from the terminal."""
    if not sys.stdin.isatty():
        raise CliError(
            "no terminal to pick a connection with", hint="pass the id: `distant select ID`"
        )
    for i, choice in enumerate(choices):
        eprint(f"{'>' if i == current else ' '} {i + 1}) {choice}")
    sys.stderr.write(f"Select a connection [{current + 1}]: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip()
    if not answer:
        return current
    try:
        index = int(answer) - 1
    except ValueError:
        raise CliError(f"not a number: {answer!r}") from None
    if not 0 <= index < len(choices):
        raise CliError(f"no choice {answer}")
    return index


def select(g: Globals, connection: int | None) -> int:
    """``distant select [ID]``: change the selected connection (the cache, §12.5)."""
    manager_auth, _ = _handlers(g)
    reader = manager_auth.reader if isinstance(manager_auth, JsonAuth) else JsonReader()
    client = connect_manager(g, auth=manager_auth)
    try:
        connections = client.list()
    finally:
        client.close()
    if connection is not None:
        if connection not in connections:
            raise CliError(f"no connection with id {connection}", hint="see `distant status`")
        write_selected(g.cache, connection)
        return 0
    if not connections:
        raise CliError("no connection available", hint="connect with `distant connect`")
    ids = sorted(connections)
    choices = [f"{cid} -> {connections[cid]}" for cid in ids]
    selected = read_selected(g.cache)
    current = ids.index(selected) if selected in ids else 0
    if g.json:
        print_json(CLI_SELECT.to_json(SelectPrompt(tuple(choices), current)))
        try:
            answer = reader.read()
        except EOFError:
            raise CliError("no selection was given") from None
        except ValueError as exc:
            raise CliError(str(exc)) from None
        try:
            message = CLI_SELECT.from_json(answer)
        except CodecError as exc:
            raise CliError(f"bad selection: {exc}") from None
        if not isinstance(message, Selected):
            raise CliError('expected {"type":"selected","choice":N}')
        choice = message.choice
        if not 0 <= choice < len(ids):
            raise CliError(f"invalid selection: {choice}")
        index = choice
    else:
        index = _pick(choices, current)
    write_selected(g.cache, ids[index])
    return 0
