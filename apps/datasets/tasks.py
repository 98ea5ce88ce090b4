import dramatiq


# dataset_ingest marks every failure of the ingestion itself on the dataset; what retries are left for is a fault
# that stopped it claiming the dataset (the database briefly gone). A dataset claimed by a worker that died is the
# reaper's (apps.datasets.services.datasets_reap): a retry or a duplicate message finds it claimed.
@dramatiq.actor(max_retries=3, time_limit=2 * 60 * 60 * 1000)
def ingest_dataset(dataset_id: int) -> None:
    """Turn an uploaded archive into a checked, training-ready dataset."""
    # Imported here, not at the top: the web process imports this module to send messages and must not load
    # PyTorch (hundreds of MB) for that.
    from .processing import dataset_ingest

    dataset_ingest(dataset_id=dataset_id)
