#!/usr/bin/python3
"""Writes the pickle test vectors of package pickle with Python's own pickle.

Run from this directory with Debian's /usr/bin/python3:

    /usr/bin/python3 gen.py

vectors.txt: plain data, one line per value and protocol: NAME PROTO HEX.
refused.txt: pickles Unmarshal must refuse, in the same format.
fuzz/FuzzUnmarshal/: a seed corpus in Go's format, from both files.
The expected Go values and refusal messages live in the Go tests.
"""
import copyreg
import io
import os
import pickle
import warnings

PROTOCOLS = range(0, 6)

shared = [1, "x"]

VALUES = {
    "none": None,
    "true": True,
    "false": False,
    "int_zero": 0,
    "int_255": 255,
    "int_256": 256,
    "int_65536": 65536,
    "int_neg": -1,
    "int_min32": -2**31,
    "int_max32": 2**31 - 1,
    "int_2p31": 2**31,
    "int_max64": 2**63 - 1,
    "int_min64": -2**63,
    "big_2p63": 2**63,
    "big_neg": -2**63 - 1,
    "big_2p1100": 2**1100,
    "big_neg_2p2000": -2**2000,
    "float_zero": 0.0,
    "float_negzero": -0.0,
    "float_1_5": 1.5,
    "float_tenth": 0.1,
    "float_max": 1.7976931348623157e308,
    "float_tiny": 5e-324,
    "float_inf": float("inf"),
    "float_neginf": float("-inf"),
    "float_nan": float("nan"),
    "str_empty": "",
    "str_ascii": "hello",
    "str_unicode": "h\u00e9llo \u2713 \U0001f600",
    "str_escapes": "a\nb\\c\x00d'e\"f\r\x1a",
    "str_long": "\u00e9" * 200,
    "str_surrogate": "\ud800",
    "bytes_empty": b"",
    "bytes_zero": b"\x00\x01\xff",
    "bytes_long": bytes(range(256)) * 2,
    "bytearray": bytearray(b"\x00ab"),
    "bytearray_empty": bytearray(),
    # protocol 4 names the global with the memoized strings "builtins"
    # and "bytearray" (BINGET, not literal strings).
    "bytearray_after_str": ["builtins", "bytearray", bytearray(b"a")],
    "list_empty": [],
    "list_mixed": [1, "a", None, 2.5, b"b"],
    "tuple_empty": (),
    "tuple_1": (1,),
    "tuple_2": (1, 2),
    "tuple_3": (1, 2, 3),
    "tuple_4": (1, 2, 3, 4),
    "dict_empty": {},
    "dict_str": {"a": 1, "b": [True, False]},
    "dict_mixed_keys": {1: "x", "y": 2, None: 3, (1, "t"): 4},
    "dict_bytes_key": {b"k": "v"},
    "set_empty": set(),
    "set_ints": {1, 2, 3},
    "frozenset_empty": frozenset(),
    "frozenset_1": frozenset([1]),
    "set_of_frozenset": {frozenset([7])},
    "frozenset_key": {frozenset([1]): "f"},
    "shared": [shared, shared],
    "nested": {"a": [1, (2, 3)], "b": {"c": {4}}, "d": [[[]]]},
    "deep": [[[[[[[[[[["x"]]]]]]]]]]],
    "environ": {"wsgi.version": (1, 0), "REMOTE_USER": "b\u00f6b",
                "app.ids": [1, 2**70], "app.flags": {"x": True}},
}


# Pickles of plain data Python does not write (any more), made by hand:
# NAME: (PROTOCOL, PICKLE, pickle.loads keyword arguments).
HANDMADE_VALUES = {
    "p0_string_escapes": (0, b"S'a\\x41\\101\\n\\q\\\\\\''\n.", {}),
    "p0_raw_unicode": (0, b"V\\\\u0041\\u0042\\\\\\u0043\\U0001F600\xe9\n.", {}),
    "p1_py2_str_latin1": (1, b"U\x01\xe9.", {"encoding": "bytes"}),
    "p0_py2_bool": (0, b"(I01\nI00\nl.", {}),
    "p0_long_without_l": (0, b"L12\n.", {}),
    "p2_dict_equal_keys": (2, b"\x80\x02}(K\x01U\x01aG?\xf0\x00\x00\x00\x00\x00\x00U\x01b\x88U\x01cu.", {}),
    "p4_set_equal_items": (4, b"\x80\x04\x8f(K\x01G?\xf0\x00\x00\x00\x00\x00\x00\x88\x90.", {}),
    "p2_pop_mark": (2, b"\x80\x02K\x01(K\x02K\x031.", {}),
}


class Point:
    def __init__(self):
        self.x = 1


class System:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Persistent(pickle.Pickler):
    def persistent_id(self, obj):
        return "oid-1" if obj == "stored" else None


def persistent(proto):
    buf = io.BytesIO()
    Persistent(buf, protocol=proto).dump(["stored"])
    return buf.getvalue()


def extension(proto):
    copyreg.add_extension(__name__, "Point", 240)
    try:
        return pickle.dumps(Point, proto)
    finally:
        copyreg.remove_extension(__name__, "Point", 240)


REFUSED = {
    "os_system": lambda p: pickle.dumps(System(), p),
    "instance": lambda p: pickle.dumps(Point(), p),
    "global_ref": lambda p: pickle.dumps(os.path.join, p),
    "builtins_eval": lambda p: pickle.dumps([1, eval], p),
    "persistent": persistent,
}

# Pickles Python does not write at every protocol, made by hand.
HANDMADE = {
    "extension": (2, extension(2)),
    "old_instance": (0, b"(i__main__\nOld\n(dp0\nb."),
    "set_of_str_call": (0, b"c__builtin__\nset\n(S'abc'\ntR."),
    "bare_set_global": (2, b"\x80\x02c__builtin__\nset\n."),
    "build": (2, b"\x80\x02}}b."),
    "out_of_band": (5, pickle.dumps(pickle.PickleBuffer(b"x"), 5,
                                   buffer_callback=lambda b: False)),
}


def go_quote(data):
    out = []
    for c in data:
        if c in (0x22, 0x5C) or c < 0x20 or c > 0x7E:
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    return '"' + "".join(out) + '"'


def main():
    seeds = {}
    with open("vectors.txt", "w") as f:
        for name, value in VALUES.items():
            for p in PROTOCOLS:
                data = pickle.dumps(value, p)
                assert repr(pickle.loads(data)) == repr(value), name
                f.write("%s %d %s\n" % (name, p, data.hex()))
                if p in (0, 2, 5):
                    seeds["%s_p%d" % (name, p)] = data
        for name, (p, data, kwargs) in HANDMADE_VALUES.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # "\\q"
                print(name, "loads as", ascii(pickle.loads(data, **kwargs)))
            f.write("%s %d %s\n" % (name, p, data.hex()))
            seeds[name] = data
    with open("refused.txt", "w") as f:
        for name, make in REFUSED.items():
            for p in PROTOCOLS:
                data = make(p)
                f.write("%s %d %s\n" % (name, p, data.hex()))
                seeds["refused_%s_p%d" % (name, p)] = data
        for name, (p, data) in HANDMADE.items():
            f.write("%s %d %s\n" % (name, p, data.hex()))
            seeds["refused_%s_p%d" % (name, p)] = data
    corpus = "fuzz/FuzzUnmarshal"
    for old in os.listdir(corpus):
        os.remove(os.path.join(corpus, old))
    for name, data in seeds.items():
        with open(os.path.join(corpus, name), "w") as f:
            f.write("go test fuzz v1\n[]byte(%s)\n" % go_quote(data))


main()
