from django.core.management.base import BaseCommand

from nasweb.worker_boot import worker_prepare


class Command(BaseCommand):
    help = ("Run a queued run's search in this process, or one of its slots (--slot): embedded mode starts one such "
            "process per run, so runs share no PyTorch state.")

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument("--slot", type=int)

    def handle(self, *args, run_id, slot, **options):
        worker_prepare()
        from apps.runs.child_process import child_start
        from apps.runs.execution import run_execute, slot_execute

        if slot is not None:
            slot_execute(run_id=run_id, slot=slot)
        else:
            run_execute(run_id=run_id, open_slot=lambda slot: child_start(run_id, slot=slot))
