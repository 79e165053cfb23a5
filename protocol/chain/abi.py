"""ABI coding for compiled artifacts: selectors and codecs are computed once per contract."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from eth_utils.crypto import keccak

from protocol.build import ARTIFACTS_DIR
from protocol.chain.codec import Decoder, decoder, encoder
from protocol.errors import ChainError, Reverted, declare, revert_error


def type_string(param: dict[str, Any]) -> str:
    """Canonical ABI type of a JSON ABI parameter (tuples expanded)."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(type_string(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(type_string(p) for p in item.get('inputs', []))})"


@dataclass(frozen=True)
class Function:
    name: str
    signature: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mutates: bool
    input_names: tuple[str, ...] = ()

    def encode(self, args: Iterable[Any]) -> bytes:
        return self.selector + encoder(self.inputs)(tuple(args))

    def decode(self, data: bytes) -> Any:
        """The return value: None for no outputs, the value for one, a tuple for several."""
        if not self.outputs:
            return None
        values = decoder(self.outputs)(data)
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class EventType:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


@dataclass(frozen=True)
class ErrorType:
    name: str
    selector: bytes
    names: tuple[str, ...]
    types: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A decoded log."""

    name: str
    address: str
    args: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


@dataclass(frozen=True)
class RawLog:
    address: str
    topics: tuple[bytes, ...]
    data: bytes


class ContractABI:
    """Functions, events and errors of one contract, with precomputed selectors."""

    def __init__(self, abi: list[dict[str, Any]]):
        self.functions: dict[str, Function] = {}
        self.overloads: dict[str, list[str]] = {}  # plain name -> signatures, when several
        self.events: dict[bytes, EventType] = {}
        self.errors: dict[bytes, ErrorType] = {}
        self.constructor_inputs: tuple[str, ...] = ()
        for item in abi:
            kind = item["type"]
            if kind == "function":
                sig = signature(item)
                fn = Function(item["name"], sig, keccak(text=sig)[:4],
                              tuple(type_string(p) for p in item["inputs"]),
                              tuple(type_string(p) for p in item["outputs"]),
                              item["stateMutability"] not in ("view", "pure"),
                              tuple(p["name"] for p in item["inputs"]))
                self.functions[sig] = fn
                # A plain name is a function only while it has one overload; an overloaded name
                # must be called by signature (or through its binding's distinct methods).
                if item["name"] in self.overloads:
                    self.overloads[item["name"]].append(sig)
                elif item["name"] in self.functions:
                    self.overloads[item["name"]] = [self.functions.pop(item["name"]).signature, sig]
                else:
                    self.functions[item["name"]] = fn
            elif kind == "event" and not item.get("anonymous"):
                sig = signature(item)
                self.events[keccak(text=sig)] = EventType(
                    item["name"], keccak(text=sig),
                    tuple((p["name"], type_string(p)) for p in item["inputs"] if p["indexed"]),
                    tuple(p["name"] for p in item["inputs"] if not p["indexed"]),
                    tuple(type_string(p) for p in item["inputs"] if not p["indexed"]))
            elif kind == "error":
                sig = signature(item)
                self.errors[keccak(text=sig)[:4]] = ErrorType(
                    item["name"], keccak(text=sig)[:4],
                    tuple(p["name"] for p in item["inputs"]),
                    tuple(type_string(p) for p in item["inputs"]))
            elif kind == "constructor":
                self.constructor_inputs = tuple(type_string(p) for p in item["inputs"])

    def function(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            if name in self.overloads:
                raise ChainError(f"{name} is overloaded: call it by signature, one of "
                                 f"{', '.join(self.overloads[name])}") from None
            raise ChainError(f"contract has no function {name!r}") from None

    @cached_property
    def by_selector(self) -> dict[bytes, Function]:
        """Functions by their 4-byte selector (to name the function a calldata calls)."""
        return {fn.selector: fn for fn in self.functions.values()}


_STANDARD_ERRORS = {
    keccak(text="Error(string)")[:4]: ErrorType("Error", keccak(text="Error(string)")[:4],
                                                ("message",), ("string",)),
    keccak(text="Panic(uint256)")[:4]: ErrorType("Panic", keccak(text="Panic(uint256)")[:4],
                                                 ("code",), ("uint256",)),
}


@dataclass(frozen=True)
class KnownContract:
    """A deployed contract the chain has seen: its artifact's name and ABI."""

    name: str
    abi: ContractABI
    #: ``signature -> selector hex`` of every external function, library functions included
    #: (solc leaves functions that take storage pointers out of a library's ABI).
    methods: Mapping[str, str] = field(default_factory=dict)

    def function_name(self, selector: bytes) -> str | None:
        fn = self.abi.by_selector.get(selector)
        if fn is not None:
            return fn.name
        wanted = selector.hex()
        return next((sig.split("(")[0] for sig, sel in self.methods.items() if sel == wanted), None)


class Registry:
    """Events and errors of every known contract, so nested reverts and logs decode anywhere,
    and each deployed contract's name and ABI by address, so calldata decodes too."""

    def __init__(self) -> None:
        self.events: dict[bytes, EventType] = {}
        self.errors: dict[bytes, ErrorType] = dict(_STANDARD_ERRORS)
        self.contracts: dict[str, KnownContract] = {}  # by checksummed address
        self._log_plans: dict[bytes, _LogPlan] = {}  # topic -> _log_plan, made on first use

    def remember(self, address: str, contract: KnownContract) -> None:
        """Remember what is deployed at ``address``."""
        self.contracts[address] = contract

    def contract_at(self, address: str | None) -> KnownContract | None:
        return self.contracts.get(address) if address else None

    def add(self, abi: ContractABI) -> None:
        self.events.update(abi.events)
        self._log_plans.clear()
        self.errors.update(abi.errors)
        declare(err.name for err in abi.errors.values())  # importable from protocol.errors

    def decode_error(self, data: bytes, receipt: Any = None) -> Reverted:
        if len(data) < 4:
            return revert_error(None, (), data, (), receipt)
        err = self.errors.get(data[:4])
        if err is None:
            return revert_error(f"0x{data[:4].hex()}", (data[4:],), data, ("data",), receipt)
        try:
            args = decoder(err.types)(data[4:])
        except Exception:  # malformed payload: keep the raw bytes rather than losing them
            return revert_error(err.name, (data[4:],), data, ("data",), receipt)
        return revert_error(err.name, tuple(args), data, err.names, receipt)

    def decode_log(self, log: RawLog) -> Event | None:
        if not log.topics:
            return None
        plan = self._log_plans.get(log.topics[0])
        if plan is None:
            ev = self.events.get(log.topics[0])
            if ev is None:
                return None
            plan = self._log_plans[log.topics[0]] = _log_plan(ev)
        ev, topic_decoders, data_decoder = plan
        if len(log.topics) != len(topic_decoders) + 1:
            return None
        args: dict[str, Any] = {name: topic if decode is None else decode(topic)[0]
                                for (name, decode), topic in zip(topic_decoders, log.topics[1:])}
        if data_decoder is not None:
            args.update(zip(ev.data_names, data_decoder(log.data)))
        return Event(ev.name, log.address, args)


#: How to decode an event's logs (see :func:`_log_plan`).
_LogPlan = tuple["EventType", tuple[tuple[str, Optional[Decoder]], ...], Optional[Decoder]]


def _log_plan(ev: EventType) -> _LogPlan:
    """How to decode ``ev``'s logs: a decoder per indexed topic (None: a dynamic type, whose
    topic is its hash and stays raw) and one for the data."""
    topics = tuple((name, None if kind in ("string", "bytes") or kind.endswith("]")
                    or kind.startswith("(") else decoder((kind,)))
                   for name, kind in ev.indexed)
    return ev, topics, decoder(ev.data_types) if ev.data_types else None


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: ContractABI
    bytecode_hex: str  # creation code; "__$...$__" placeholders where libraries are linked
    raw: dict[str, Any]

    @property
    def libraries(self) -> tuple[str, ...]:
        """Names of the external libraries this contract's code calls (linked at deploy)."""
        return tuple(name for refs in self.raw.get("linkReferences", {}).values() for name in refs)

    def code(self, libraries: Mapping[str, str] | None = None) -> bytes:
        """The creation code with each library's address written where solc left its place."""
        code = self.bytecode_hex
        for refs in self.raw.get("linkReferences", {}).values():
            for library, places in refs.items():
                if not libraries or library not in libraries:
                    raise ChainError(f"{self.name} calls the external library {library}: deploy it "
                                     f"first and pass libraries={{{library!r}: address}}")
                address = libraries[library].lower().removeprefix("0x")
                for place in places:
                    start = 2 * place["start"]
                    code = code[:start] + address + code[start + 40:]
        return bytes.fromhex(code)


#: Directories searched, in order, after ``protocol/artifacts`` for a contract named without a
#: directory (:func:`add_artifact_dir`).
ARTIFACT_DIRS: list[Path] = []


def add_artifact_dir(directory: str | Path) -> None:
    """Also look in ``directory`` (a compiled directory of your own contracts, as
    :func:`protocol.build.user_artifacts_dir` names it) for a contract named without one, after
    the project's: the project's own test suite finds its test contracts, which the package does
    not ship, this way."""
    path = Path(directory)
    if path not in ARTIFACT_DIRS:
        ARTIFACT_DIRS.append(path)


def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """A compiled contract from ``directory`` (default ``protocol/artifacts``, then the
    directories of :func:`add_artifact_dir`; run ``perpsim compile`` first)."""
    if directory is None and ARTIFACT_DIRS and not (ARTIFACTS_DIR / f"{name}.json").exists():
        directory = next((d for d in ARTIFACT_DIRS if (d / f"{name}.json").exists()), None)
    return _load_artifact(name, ARTIFACTS_DIR if directory is None else Path(directory))


@lru_cache(maxsize=None)
def _load_artifact(name: str, directory: Path) -> Artifact:
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ChainError(f"no artifact for {name!r} in {directory}; run `perpsim compile`") \
            from None
    return Artifact(name, ContractABI(raw["abi"]), raw["bytecode"][2:], raw)

