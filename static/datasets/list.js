// The datasets list re-sorts as soon as another order is picked.
const sort = document.getElementById("dataset-sort");
sort?.addEventListener("change", () => sort.form.requestSubmit());
