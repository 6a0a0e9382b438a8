"""Packed binary codes in a Milvus collection: the storage behind `backend="milvus"`.

One collection holds one index: a primary key `pos` (the insertion position,
0, 1, 2, ...), the user's id `user_id` and the packed code `code`
(`BINARY_VECTOR`, 8 * bytes dimensions; padding bits are 0 in every code, so
Hamming distances are unchanged). Keying on the insertion position lets every
backend break distance ties the same way: lowest position first
(docs/search.md, "Exact and approximate").

The URI picks the deployment (docs/search.md, "Milvus"):

- a local file path (`codes.db`): embedded milvus-lite, exact `BIN_FLAT` only;
- `http://host:19530`: a Milvus server or cluster, also `BIN_IVF_FLAT`.

Milvus caps a request at 16,384 results per query (`MAX_LIMIT`), which bounds
`k` and the size of a range-search answer.
"""

import numpy as np

#: Milvus's largest `limit` (topk) per query.
MAX_LIMIT = 16384
#: Index types this module creates, by name.
INDEX_TYPES = ("BIN_FLAT", "BIN_IVF_FLAT")
#: Consistency levels Milvus accepts.
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")

_FIELDS = ("pos", "user_id", "code")


#: Seconds to wait for an embedded milvus-lite server to accept the connection.
LOCAL_CONNECT_TIMEOUT_S = 60


def milvus_available():
    """True when `pymilvus` imports (the `.[milvus]` extra)."""
    try:
        import pymilvus  # noqa: F401, PLC0415 - optional dependency
    except ImportError:
        return False
    return True


def _client(uri, token):
    try:
        from pymilvus import MilvusClient  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError(
            "backend='milvus' needs pymilvus (and milvus-lite for a local file): "
            "`pip install 'hashzoo[milvus]'`."
        ) from error
    kwargs = {"token": token} if token else {}
    if is_local_uri(uri):
        # milvus-lite starts a server process for the file; on a busy machine its socket can take longer than
        # pymilvus's default 10 s connect wait to appear. The timeout covers the connection only.
        kwargs["timeout"] = LOCAL_CONNECT_TIMEOUT_S
    return MilvusClient(str(uri), **kwargs)


def is_local_uri(uri):
    """True for an embedded milvus-lite file URI (anything that is not http(s):// or tcp://)."""
    return not str(uri).startswith(("http://", "https://", "tcp://", "unix:"))


class MilvusStore:
    """A Milvus collection of packed codes with positions and user ids.

    Args:
        uri: local `.db` file (milvus-lite) or `http://host:19530`.
        collection: collection name; an existing one is reopened (its
            dimension must match).
        num_bytes: bytes per packed code.
        index_type: `"BIN_FLAT"` (exact) or `"BIN_IVF_FLAT"` (server only).
        index_params: build parameters of the index (e.g. `{"nlist": 1024}`).
        search_params: search parameters (e.g. `{"nprobe": 16}`).
        consistency_level: Milvus consistency of searches; `"Strong"` sees
            every insert at once (needed for exact answers right after `add`).
        token: credentials for a server (`"user:password"` or an API key).
        batch_size: rows per insert call and queries per search call.
    """

    def __init__(self, uri, collection, num_bytes, index_type="BIN_FLAT", index_params=None,
                 search_params=None, consistency_level="Strong", token=None, batch_size=1000):
        if index_type not in INDEX_TYPES:
            raise ValueError(f"`index_type` must be one of {list(INDEX_TYPES)}, got {index_type!r}.")
        if consistency_level not in CONSISTENCY_LEVELS:
            raise ValueError(
                f"`consistency_level` must be one of {list(CONSISTENCY_LEVELS)}, got {consistency_level!r}."
            )
        if index_type != "BIN_FLAT" and is_local_uri(uri):
            raise ValueError(
                f"milvus-lite (local file {uri}) supports BIN_FLAT only; use an http://host:19530 "
                f"server for {index_type}, or a faiss approximate index."
            )
        self.uri, self.collection, self.num_bytes = str(uri), collection, num_bytes
        self.index_type = index_type
        self.search_params = dict(search_params or {})
        self.consistency_level = consistency_level
        self.batch_size = batch_size
        self._client = _client(uri, token)
        if self._client.has_collection(collection):
            self._check_existing()
            self._client.load_collection(collection)
        else:
            self._create(index_params or {})
        self.size = self._count()

    def _create(self, index_params):
        from pymilvus import DataType, MilvusClient  # noqa: PLC0415

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pos", DataType.INT64, is_primary=True)
        schema.add_field("user_id", DataType.INT64)
        schema.add_field("code", DataType.BINARY_VECTOR, dim=8 * self.num_bytes)
        params = self._client.prepare_index_params()
        params.add_index(field_name="code", index_type=self.index_type, metric_type="HAMMING",
                         params=dict(index_params))
        self._client.create_collection(self.collection, schema=schema, index_params=params,
                                       consistency_level=self.consistency_level)

    def _check_existing(self):
        fields = {f["name"]: f for f in self._client.describe_collection(self.collection)["fields"]}
        dim = (fields.get("code") or {}).get("params", {}).get("dim")
        if set(_FIELDS) - set(fields) or int(dim or 0) != 8 * self.num_bytes:
            raise ValueError(
                f"Milvus collection {self.collection!r} at {self.uri} is not a {8 * self.num_bytes}-dimension "
                f"hashzoo index (fields {sorted(fields)}, dim {dim}); choose another collection name."
            )

    def _count(self):
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"],
                                  consistency_level="Strong")
        return int(rows[0]["count(*)"]) if rows else 0

    def insert(self, packed, user_ids):
        """Inserts packed codes in batches; positions continue from the current size."""
        for start in range(0, len(packed), self.batch_size):
            stop = min(start + self.batch_size, len(packed))
            rows = [
                {"pos": self.size + i, "user_id": int(user_ids[i]), "code": packed[i].tobytes()}
                for i in range(start, stop)
            ]
            self._client.insert(self.collection, rows)
        self.size += len(packed)

    def _search(self, packed, limit, params):
        """Raw hits per query, `[(distances, positions, user_ids), ...]`, in Milvus's order."""
        out = []
        for start in range(0, len(packed), self.batch_size):
            block = packed[start:start + self.batch_size]
            hits = self._client.search(
                self.collection, data=[row.tobytes() for row in block], anns_field="code", limit=limit,
                search_params={"metric_type": "HAMMING", "params": params}, output_fields=["user_id"],
                consistency_level=self.consistency_level,
            )
            for row in hits:
                out.append((
                    np.fromiter((h["distance"] for h in row), np.int32, len(row)),
                    np.fromiter((h["id"] for h in row), np.int64, len(row)),
                    np.fromiter((h["entity"]["user_id"] for h in row), np.int64, len(row)),
                ))
        return out

    def search(self, packed, k):
        """Top-k per query in (distance, position) order: `(distances, positions, user_ids)`, each `[Q, k]`.

        Exact on `BIN_FLAT`, also at the top-k boundary: each query fetches
        more than k hits until the last hit is farther than the k-th, so the
        whole boundary tie group is in hand, then sorts by (distance,
        position). When a tie group does not fit in `MAX_LIMIT` hits, the
        boundary follows Milvus's own order (milvus-lite's is the stable one).
        On `BIN_IVF_FLAT` the candidates are approximate; slots with no hit
        hold position and user id -1 and distance -1.
        """
        num = len(packed)
        distances = np.full((num, k), -1, np.int32)
        positions = np.full((num, k), -1, np.int64)
        user_ids = np.full((num, k), -1, np.int64)
        pending = np.arange(num)
        limit = min(max(2 * k, k + 16), MAX_LIMIT, max(self.size, k))
        while len(pending):
            hits = self._search(packed[pending], limit, self.search_params)
            again = []
            for row, (d, p, u) in zip(pending, hits):
                order = np.lexsort((p, d))
                d, p, u = d[order], p[order], u[order]
                complete = (len(d) <= k or len(d) < limit or d[-1] > d[k - 1]
                            or limit >= min(self.size, MAX_LIMIT))
                if not complete:
                    again.append(row)
                    continue
                n = min(k, len(d))
                distances[row, :n], positions[row, :n], user_ids[row, :n] = d[:n], p[:n], u[:n]
            pending = np.asarray(again, dtype=np.int64)
            limit = min(2 * limit, MAX_LIMIT)
        return distances, positions, user_ids

    def range_search(self, packed, radius):
        """Every hit with distance <= radius per query, `[(distances, positions, user_ids), ...]`, sorted.

        Raises:
            ValueError: when a query has `MAX_LIMIT` or more hits (Milvus would cut the answer).
        """
        # Milvus's Hamming range keeps range_filter <= distance < radius.
        params = dict(self.search_params, radius=int(radius) + 1, range_filter=0)
        results = []
        for d, p, u in self._search(packed, MAX_LIMIT, params):
            if len(d) >= MAX_LIMIT:
                raise ValueError(
                    f"a query has {MAX_LIMIT} or more codes within radius {radius}, more than Milvus returns in "
                    "one answer; use a smaller radius or a faiss/numpy index."
                )
            order = np.lexsort((p, d))
            results.append((d[order], p[order], u[order]))
        return results

    def fetch(self, start, stop):
        """Packed codes and user ids of positions [start, stop), in position order."""
        rows = []
        for low in range(start, stop, self.batch_size):
            high = min(low + self.batch_size, stop)
            rows += self._client.query(self.collection, filter=f"pos >= {low} and pos < {high}",
                                       output_fields=["pos", "user_id", "code"], consistency_level="Strong")
        rows.sort(key=lambda row: row["pos"])
        codes = np.array([np.frombuffer(_as_bytes(row["code"]), np.uint8) for row in rows], np.uint8)
        return codes.reshape(len(rows), self.num_bytes), np.array([row["user_id"] for row in rows], np.int64)

    def flush(self):
        """Seals what was inserted so that it survives a restart of the server or of milvus-lite."""
        self._client.flush(self.collection)

    def drop(self):
        """Deletes the collection."""
        self._client.drop_collection(self.collection)

    def close(self):
        """Closes the connection (milvus-lite stops its local server when the last one closes)."""
        self._client.close()


def _as_bytes(value):
    """A binary vector as Milvus returns it (bytes, or a list holding bytes) as bytes."""
    if isinstance(value, (list, tuple)):
        value = value[0]
    return bytes(value)
