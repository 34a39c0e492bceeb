"""A Kafka client that stops fetching a partition (kafka-python 3.x bugs: dpkp/kafka-python#3106, #3131) is
replaced: on a real broker and a real Valkey, the consumer's first client stops fetching one partition that
still gets sales; the consumer finds it, starts a new client, and every sale is counted once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
import valkey
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from bftools.runtime.process import wait_for
from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline
from blackfriday import keys
from blackfriday.consumer import main
from blackfriday.consumer.loop import ConsumerMetrics
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.sale import Category, Sale
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration

WAVE = 40  # sales per partition, before and after the first client stops fetching


class FirstClientStops(KafkaConsumer):  # type: ignore[misc]  # kafka-python is untyped
    """The consumer's first client stops fetching partition 0 once ``stop_fetching`` is set, as the bugs did
    (kafka-python's own pause, so that no record it returned is lost)."""

    made = 0
    stop_fetching = threading.Event()
    stopped = threading.Event()

    def __init__(self, **configs: Any) -> None:
        super().__init__(**configs)
        FirstClientStops.made += 1
        self.first = FirstClientStops.made == 1

    def poll(self, *args: Any, **kwargs: Any) -> Any:
        if self.first and self.stop_fetching.is_set() and not self.stopped.is_set():
            stuck = TopicPartition(next(iter(self.assignment())).topic, 0)
            self.pause(stuck)
            self.stopped.set()
        return super().poll(*args, **kwargs)


@pytest.fixture
def consumer_thread(
    pipeline: Pipeline, valkey_client: valkey.Valkey, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CollectorRegistry, threading.Event]]:
    pipeline.consumer_ports.setdefault("consumer", 0)  # in this process: no metrics server
    env = {**pipeline.env("consumer", "consumer"), "PARTITION_STALL_SECONDS": "5"}
    settings = ConsumerSettings.from_env(env)
    monkeypatch.setattr(main, "KafkaConsumer", FirstClientStops)
    FirstClientStops.made = 0
    FirstClientStops.stop_fetching.clear()
    FirstClientStops.stopped.clear()
    registry = CollectorRegistry()
    store = Store(
        valkey.Valkey.from_url(
            f"valkey://{settings.valkey_addr}", username=settings.valkey_user, password=settings.valkey_password
        ),
        StoreOptions(price_history_cap=100, throughput_cap=600),
    )
    stop = threading.Event()
    worker = threading.Thread(
        target=main.consume, args=(settings, store, ConsumerMetrics(registry), main.Probes(settings, store), stop)
    )
    worker.start()
    yield registry, stop
    stop.set()
    worker.join(30)


def _produce(kafka: KafkaBroker, topic: str, wave: int) -> None:
    producer = KafkaProducer(**kafka.client_config(), acks="all")
    for partition in range(PARTITIONS):
        for i in range(WAVE):
            sale = Sale(f"w{wave}-p{partition}-{i}", 1_700_000_000_000, Category.Hogar, f"p{i}", 1000, 1)
            producer.send(topic, sale.to_json(), partition=partition)
    producer.flush()
    producer.close()


def test_a_partition_the_client_stopped_fetching_is_read_by_a_new_client(
    kafka: KafkaBroker,
    topic: str,
    valkey_client: valkey.Valkey,
    consumer_thread: tuple[CollectorRegistry, threading.Event],
) -> None:
    registry, _ = consumer_thread

    def counted() -> int:
        return int(cast(bytes | None, valkey_client.get(keys.SALES_TOTAL)) or 0)

    _produce(kafka, topic, 1)
    assert wait_for(lambda: counted() == WAVE * PARTITIONS, 60), f"{counted()} counted of the first wave"
    FirstClientStops.stop_fetching.set()
    assert wait_for(FirstClientStops.stopped.is_set, 10)
    _produce(kafka, topic, 2)

    assert wait_for(lambda: counted() == 2 * WAVE * PARTITIONS, 60), f"{counted()} counted of both waves"
    assert registry.get_sample_value("bf_consumer_client_stalls_total") == 1
    assert FirstClientStops.made == 2
    assert valkey_client.zscore(keys.PRODUCTS_UNITS, "p0") == 2 * PARTITIONS  # one unit a wave and partition
