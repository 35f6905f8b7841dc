"""A long-lived pocketsphinx decoder for the offline speech server (recognizer.ts starts it).

Not AI: pocketsphinx (Debian's python3-pocketsphinx, run by /usr/bin/python3) searching JSGF
grammars of the scripted dialog's phrases. It loads the acoustic model once (about 200 ms), then
decodes each request as one utterance (tens of milliseconds for a phrase), where a run of
`pocketsphinx_continuous` per request spent most of its time loading the model.

Usage: decoder.py --hmm DIR --dict FILE --grammar NAME=FILE.gram [--grammar NAME=FILE.gram ...]

Protocol on stdin/stdout, one request at a time, answered in order:
  start     decoder → {"ready": true, "searches": [NAME, ...], "load_ms": N}
  request   node → one JSON line {"id": ID, "search": NAME, "bytes": N}, then exactly N bytes of
            16 kHz mono signed 16-bit little-endian PCM
  reply     decoder → one JSON line {"id": ID, "text": "..."} ("" when nothing in the grammar
            matched), or {"id": ID, "error": "..."} for a request it could not decode
Each request is decoded as one utterance, as by a fresh decoder (see start_stream below), so a
clip is heard the same way whatever came before it. A header that is not such a line leaves no
way to find the next one: the decoder says why on stderr and exits with status 2. End of stdin
ends it with status 0; SIGINT is ignored (its parent ends it).
"""

import argparse
import json
import os
import signal
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hmm", required=True)
    parser.add_argument("--dict", required=True)
    parser.add_argument("--grammar", action="append", required=True, metavar="NAME=FILE")
    args = parser.parse_args()
    # Its parent decides when it ends (end of stdin, or SIGTERM to its pid): a Ctrl-C meant for the
    # terminal's process group would otherwise end it in the middle of a request, with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    # The protocol owns stdout: anything else that writes to file descriptor 1 (a C library's
    # message) goes to stderr instead of into a reply.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer

    def send(message: dict) -> None:
        out.write(json.dumps(message).encode("utf-8") + b"\n")
        out.flush()

    started = time.monotonic()
    from pocketsphinx import Decoder

    config = Decoder.default_config()
    config.set_string("-hmm", args.hmm)
    config.set_string("-dict", args.dict)
    config.set_string("-logfn", "/dev/null")
    decoder = Decoder(config)
    searches = []
    for grammar in args.grammar:
        name, sep, path = grammar.partition("=")
        if not sep or not name or not path:
            print(f"decoder.py: --grammar wants NAME=FILE, got {grammar!r}", file=sys.stderr)
            return 2
        decoder.set_jsgf_file(name, path)
        searches.append(name)
    current = None
    load_ms = round((time.monotonic() - started) * 1000)
    send({"ready": True, "searches": searches, "load_ms": load_ms})

    while True:
        line = requests.readline()
        if not line:
            return 0
        try:
            header = json.loads(line)
            request_id = header["id"]
            search = header["search"]
            size = header["bytes"]
            if not isinstance(size, int) or size < 0:
                raise ValueError(f"bytes must be a count, got {size!r}")
        except (ValueError, KeyError, TypeError) as err:
            print(f"decoder.py: malformed request header {line[:200]!r}: {err}", file=sys.stderr)
            return 2
        pcm = requests.read(size)
        if len(pcm) != size:
            print(f"decoder.py: stdin ended inside request {request_id!r}", file=sys.stderr)
            return 2
        if search not in searches:
            have = ", ".join(searches)
            send({"id": request_id, "error": f"no grammar named {search!r} (have {have})"})
            continue
        if size % 2 != 0:
            send({"id": request_id, "error": "16-bit PCM needs an even number of bytes"})
            continue
        try:
            if search != current:
                decoder.set_search(search)
                current = search
            # A new stream for each request: the decoder carries channel estimates from one
            # utterance to the next (measured: the same clip scored, and once was recognized,
            # differently after other requests). Restarted, each is heard as by a fresh decoder.
            decoder.start_stream()
            # The whole clip as one utterance (full_utt): the grammar matches it as a whole.
            decoder.start_utt()
            decoder.process_raw(pcm, False, True)
            decoder.end_utt()
            hyp = decoder.hyp()
            send({"id": request_id, "text": hyp.hypstr.strip() if hyp is not None else ""})
        except Exception as err:  # pocketsphinx raises RuntimeError; report any failure per request
            current = None
            send({"id": request_id, "error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    sys.exit(main())
