from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.datasets.selectors import dataset_get, dataset_list

from . import services
from .forms import RunForm
from .selectors import run_get
from .selectors import run_list as runs_of


@login_required
@require_GET
def run_list(request):
    return render(request, "runs/list.html", {"runs": runs_of(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def run_new(request):
    datasets = dataset_list(user=request.user).filter(status="ready")
    form = RunForm(request.POST or None, datasets=datasets, initial={"dataset": request.GET.get("dataset")})
    if form.is_valid():
        dataset = dataset_get(user=request.user, dataset_id=form.cleaned_data["dataset"].pk)
        try:
            run = services.run_create(team=dataset.team, user=request.user, dataset=dataset, **form.run_options())
        except services.RunError as error:
            form.add_error(None, str(error))
        else:
            return redirect("run-detail", run.pk)
    return render(request, "runs/new.html", {"form": form, "datasets": datasets})


@login_required
@require_GET
def run_detail(request, run_id):
    run = run_get(user=request.user, run_id=run_id)
    return render(request, "runs/detail.html", {"run": run})


@login_required
@require_GET
def run_compare(request):
    ids = [int(i) for i in request.GET.getlist("run") if i.isdigit()]
    runs = [run_get(user=request.user, run_id=i) for i in ids[:6]]
    return render(request, "runs/compare.html", {"runs": runs, "all_runs": runs_of(user=request.user)[:50]})
