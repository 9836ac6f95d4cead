"""The idempotency persistence layer's keys (:mod:`agentocore.idempotency`)."""

from __future__ import annotations

from agentocore.idempotency import RecordPerPartitionLayer, record_pk


def test_the_partition_is_the_hash_powertools_computes() -> None:
    key = "agentocore-dev-agent-executor.agentocore.lambda_support.call#0123abcd"
    assert record_pk("agent_executor", key) == "idempotency#agent_executor#0123abcd"


def test_a_key_without_a_hash_part_is_hashed_whole() -> None:
    for key in ("plain", "ends-with#"):
        pk = record_pk("w", key)
        assert pk.startswith("idempotency#w#") and len(pk.removeprefix("idempotency#w#")) == 32
        assert pk == record_pk("w", key)


def test_records_read_back_carry_their_own_key() -> None:
    layer = RecordPerPartitionLayer(table_name="t", name="standard_worker")
    key = "fn.call#feedface"
    stored = {
        **layer._get_key(key),
        "ttl": {"N": str(2**40)},
        "status": {"S": "COMPLETED"},
        "data": {"S": "{}"},
    }
    assert stored["PK"] == {"S": "idempotency#standard_worker#feedface"}
    record = layer._item_to_data_record(stored)
    assert record.idempotency_key == key and record.status == "COMPLETED"
