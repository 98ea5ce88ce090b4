"""Results stored before the engine's result became typed (apps.nas.results) gain the fields the pages now read:
the test split's size and the 95% interval of its accuracy, and the input shape the model takes."""

from django.db import migrations

from apps.nas.results import accuracy_interval


def add_result_fields(apps, schema_editor):
    Run = apps.get_model("runs", "Run")
    RunEvent = apps.get_model("runs", "RunEvent")
    for run in Run.objects.exclude(result=None).iterator():
        report, summary = run.result.get("test_report", {}), run.result.get("summary", {})
        if "per_class" in report and "images" not in report:
            report["images"] = sum(row["support"] for row in report["per_class"])
            right = round(report["accuracy"] * report["images"])
            report["accuracy_low"], report["accuracy_high"] = accuracy_interval(right, report["images"])
        if "input_shape" not in summary:
            started = RunEvent.objects.filter(run=run, type="run_started").order_by("-seq").first()
            summary["input_shape"] = started.payload["dataset"]["input_shape"] if started else [3, 0, 0]
        run.save(update_fields=["result"])


class Migration(migrations.Migration):
    dependencies = [("runs", "0004_alter_run_strategy")]

    operations = [migrations.RunPython(add_result_fields, migrations.RunPython.noop)]
