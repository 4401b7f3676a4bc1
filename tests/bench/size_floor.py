"""The fewest bytes an archive's Parquet could take for what it keeps, next to what it takes.

    .venv/bin/python tests/bench/size_floor.py ARCHIVE [--level 19] [--against DIR]
        [--min-bytes 100000]

Two parts of an archive cannot shrink below their information content, whatever the encoding:

- the raw documents (the evidence): bounded here by zstd at `--level` over all of them as one
  stream, in the archive's order, which no per-page Parquet codec beats by much;
- the columns of random ids (span and segment ids, trace ids, request ids, keyed hashes):
  each distinct value carries its random bytes (8 for a span id, 12 for a trace id's random
  part, 32 for a SHA-256 hex digest) however it is encoded, since Parquet compresses each
  column on its own and cannot point into the documents.

Every other column is counted at its size on disk. With `--against` (another tool's output,
such as `tests/bench/pyarrow_convert.py`'s), it prints the ratio of each figure to those
bytes, so a size target can be checked against the floor. Reads the archive with pyarrow.
"""

import argparse
import pathlib
import re

import pyarrow as pa
import pyarrow.parquet as pq

# Random bytes carried by one value of each id shape. The trace id's first 8 hex digits are
# its epoch second, which the day and the sort order give.
ID_SHAPES = [
    (re.compile(r"[0-9a-f]{16}"), 8),
    (re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}"), 12),
    (re.compile(r"[0-9a-f]{64}"), 32),
    (re.compile(r"[0-9A-F]{52}"), 26),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), 15.25),
]


def id_bytes(values: set) -> float | None:
    """The random bytes of all `values` when each has an id shape; None otherwise."""
    total = 0.0
    for v in values:
        size = next((size for shape, size in ID_SHAPES if shape.fullmatch(v)), None)
        if size is None:
            return None
        total += size
    return total if values else None


def parquet_bytes(root: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", type=pathlib.Path)
    ap.add_argument("--level", type=int, default=19, help="zstd level for the documents")
    ap.add_argument("--against", type=pathlib.Path, help="another tool's Parquet output")
    ap.add_argument("--min-bytes", type=int, default=100_000,
                    help="parts smaller than this on disk are summed on one line")
    args = ap.parse_args()

    tables = sorted(p for p in (args.archive / "v1").iterdir() if p.is_dir())
    rows = []  # (what, floor bytes, bytes on disk)
    for table in tables:
        files = sorted(table.rglob("*.parquet"))
        data = pq.read_table(files)
        on_disk: dict[str, int] = {}
        footers = 0
        for f in files:
            meta = pq.ParquetFile(f).metadata
            chunks = 0
            for g in range(meta.num_row_groups):
                for c in range(meta.num_columns):
                    col = meta.row_group(g).column(c)
                    name = col.path_in_schema.split(".")[0]
                    on_disk[name] = on_disk.get(name, 0) + col.total_compressed_size
                    chunks += col.total_compressed_size
            footers += f.stat().st_size - chunks
        rows.append((f"{table.name}: footers and bloom filters", footers, footers))
        for name in data.column_names:
            disk = on_disk.get(name, 0)
            column = data.column(name)
            if name == "document":
                text = "\n".join(column.to_pylist()).encode()
                codec = pa.Codec("zstd", compression_level=args.level)
                floor = len(codec.compress(text, asbytes=True))
                rows.append((f"{table.name}.document (zstd {args.level}, one stream)", floor, disk))
                continue
            if pa.types.is_string(column.type):
                values = set(v for v in column.to_pylist() if v is not None)
                size = id_bytes(values)
                if size is not None:
                    rows.append((f"{table.name}.{name} ({len(values)} random ids)", size, disk))
                    continue
            rows.append((f"{table.name}.{name} (as stored)", disk, disk))
    # The parts no encoding can shrink, with every other column counted as nothing.
    hard = sum(f for what, f, _ in rows if "(as stored)" not in what and "footers" not in what)

    floor = sum(r[1] for r in rows)
    total = parquet_bytes(args.archive / "v1")
    against = parquet_bytes(args.against) if args.against else None
    print(f"{'part':<62} {'floor':>12} {'on disk':>12}")
    for what, f, d in sorted(rows, key=lambda r: -r[2]):
        if d >= args.min_bytes:
            print(f"{what:<62} {f:>12,.0f} {d:>12,}")
    rest = [r for r in rows if r[2] < args.min_bytes]
    print(f"{f'{len(rest)} smaller parts':<62} {sum(r[1] for r in rest):>12,.0f} "
          f"{sum(r[2] for r in rest):>12,}")
    print(f"{'all':<62} {floor:>12,.0f} {total:>12,}")
    print(f"{'the documents and random ids alone':<62} {hard:>12,.0f}")
    if against:
        print(f"\nagainst {against:,} bytes: the archive is {total / against:.3f}x, the floor "
              f"{floor / against:.3f}x, the documents and random ids alone {hard / against:.3f}x")


if __name__ == "__main__":
    main()
