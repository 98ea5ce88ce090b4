"""What an extracted upload means: which files are images and which label each one has.

Two layouts are understood, the same way the engine's load_image_folder reads folders:
  (a) class folders: root/<class>/<images, at any depth>;
  (b) a labels.csv next to the images: filename,label rows, header optional, extra columns ignored.
One wrapping folder (an archive of "mydata/") is looked through.
"""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from apps.datasets.findings import MAX_LISTED, Finding
from apps.nas.preprocess import IMAGE_EXTENSIONS

IMAGE_CLASSIFICATION = "image-classification"
LABELS_FILE = "labels.csv"
FILENAME_HEADERS = {"filename", "file", "file_name", "image", "image_name", "path", "filepath", "name", "id"}
LABEL_HEADERS = {"label", "class", "class_name", "category", "target", "y"}
MAX_LABELS_BYTES = 64 * 2**20  # a labels.csv for 200,000 images is a few MB


@dataclass
class LabelledImages:
    """The labelled images found under a folder, and what the user should know about the layout."""

    items: list[tuple[str, str]]  # (path relative to the root, label)
    findings: list[Finding]
    class_names: list[str] = field(default_factory=list)  # sorted; includes classes with no images
    task: str = IMAGE_CLASSIFICATION
    root: str = ""  # the folder the class folders or labels.csv sit in, relative to the root ("" for the root)


def find_labelled_images(root: Path) -> LabelledImages:
    """Work out the layout under `root` and list every image with its label.

    Args:
        root: an extracted archive or uploaded folder.
    """
    root = Path(root)
    base = _dataset_base(root)
    labels_file = next((p for p in _visible(base) if p.is_file() and p.name.lower() == LABELS_FILE), None)
    found = _from_labels_file(root, base, labels_file) if labels_file else _from_class_folders(root, base)
    found.root = base.relative_to(root).as_posix().removeprefix(".")
    return found


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__")))


def _is_image_name(path: Path | PurePosixPath) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _dataset_base(root: Path) -> Path:
    """The root, or the one folder wrapping everything (same rule as the engine, plus a labels.csv inside)."""
    children = _visible(root)
    folders = [p for p in children if p.is_dir()]
    if len(folders) != 1 or any(p.is_file() and (_is_image_name(p) or p.name.lower() == LABELS_FILE)
                                for p in children):
        return root
    inner = _visible(folders[0])
    if sum(p.is_dir() for p in inner) >= 2 or any(p.is_file() and p.name.lower() == LABELS_FILE for p in inner):
        return folders[0]
    return root


def _files_under(folder: Path) -> list[Path]:
    files = (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
    return sorted(files, key=lambda p: p.parts)


def _from_class_folders(root: Path, base: Path) -> LabelledImages:
    folders = [p for p in _visible(base) if p.is_dir()]
    items, others = [], []
    for folder in folders:
        for path in _files_under(folder):
            relative = path.relative_to(root).as_posix()
            if _is_image_name(path):
                items.append((relative, folder.name))
            else:
                others.append(relative)
    top_files = [p for p in _visible(base) if p.is_file()]
    loose = [p.relative_to(root).as_posix() for p in top_files if _is_image_name(p)]
    others += [p.relative_to(root).as_posix() for p in top_files if not _is_image_name(p)]
    findings = _other_files_finding(others)
    if not folders:
        findings.append(Finding("error", "no_class_folders", "No class folders were found. Put the images of each "
                                "class in its own folder (for example cats/ and dogs/); the folder names become "
                                "the class names. Or add a labels.csv listing filename,label.", {}))
    if loose and folders:
        findings.append(Finding("info", "images_outside_classes", f"{len(loose)} image(s) sit outside the class "
                                "folders and were left out, as their class is unknown. Move them into the folder "
                                "of their class if they belong in the dataset.",
                                {"count": len(loose), "files": loose[:MAX_LISTED]}))
    return LabelledImages(items, findings, sorted(folder.name for folder in folders))


def _other_files_finding(others: list[str]) -> list[Finding]:
    if not others:
        return []
    return [Finding("info", "non_image_files", f"{len(others)} file(s) are not images NASweb reads (JPEG, PNG, "
                    "WebP, BMP, GIF) and were skipped. Nothing to do unless they were meant to be images.",
                    {"count": len(others), "files": others[:MAX_LISTED]})]


def _read_rows(labels_file: Path) -> list[list[str]]:
    data = labels_file.read_bytes()[:MAX_LABELS_BYTES]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")  # what Excel on Windows writes
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)
            if any(cell.strip() for cell in row)]


def _from_labels_file(root: Path, base: Path, labels_file: Path) -> LabelledImages:
    rows = _read_rows(labels_file)
    files = {p.relative_to(base).as_posix(): p for p in _files_under(base) if p != labels_file}
    by_name: dict[str, list[str]] = {}  # a csv often names files without their folder, or by id without extension
    for relative in files:
        path = PurePosixPath(relative)
        for key in {path.name, path.stem}:
            by_name.setdefault(key, []).append(relative)

    def resolve(cell: str) -> str | None:
        name = cell.replace("\\", "/").removeprefix("./")
        if name in files:
            return name
        matches = by_name.get(PurePosixPath(name).name, [])
        return matches[0] if len(matches) == 1 else None

    findings: list[Finding] = []
    header = rows[0] if rows and resolve(rows[0][0]) is None and not _is_image_name(PurePosixPath(rows[0][0])) \
        else None
    names = [cell.lower() for cell in header] if header else []
    file_column = next((i for i, cell in enumerate(names) if cell in FILENAME_HEADERS), 0)
    label_column = next((i for i, cell in enumerate(names) if cell in LABEL_HEADERS and i != file_column),
                        1 if file_column != 1 else 0)
    body = rows[1:] if header else rows
    if any(len(row) > 2 for row in rows):
        findings.append(Finding("info", "labels_csv_extra_columns", f"{LABELS_FILE} has more than two columns; "
                                "only the file name and label columns are used, the rest is ignored.",
                                {"file_column": file_column, "label_column": label_column,
                                 "header": header or []}))
    items, missing, bad_rows, others, labelled = [], [], 0, [], set()
    for row in body:
        if len(row) <= max(file_column, label_column) or not row[label_column] or not row[file_column]:
            bad_rows += 1
            continue
        relative = resolve(row[file_column])
        if relative is None:
            missing.append(row[file_column])
        elif relative not in labelled:
            labelled.add(relative)
            path = files[relative]
            if _is_image_name(path):
                items.append((path.relative_to(root).as_posix(), row[label_column]))
            else:
                others.append(path.relative_to(root).as_posix())
    unlabelled = [p.relative_to(root).as_posix() for relative, p in files.items()
                  if relative not in labelled and _is_image_name(p)]
    findings += _other_files_finding(others)
    findings += _labels_file_findings(items, missing, bad_rows, unlabelled)
    return LabelledImages(items, findings, sorted({label for _, label in items}))


def _labels_file_findings(items: list, missing: list[str], bad_rows: int, unlabelled: list[str]) -> list[Finding]:
    findings = []
    if not items:
        findings.append(Finding("error", "labels_csv_empty", f"{LABELS_FILE} names no image that is in the upload. "
                                "Each row should hold an image's file name and its label, e.g. 'cat1.jpg,cat', "
                                "and the images must be in the same archive.", {}))
    if missing:
        findings.append(Finding("warning", "labels_csv_missing_files", f"{LABELS_FILE} names {len(missing)} "
                                "file(s) that are not in the upload, for example "
                                f"{', '.join(repr(m) for m in missing[:3])}. Those rows were ignored: add the "
                                "images, or fix their names in the file.",
                                {"count": len(missing), "files": missing[:MAX_LISTED]}))
    if bad_rows:
        findings.append(Finding("warning", "labels_csv_bad_rows", f"{bad_rows} row(s) of {LABELS_FILE} have no file "
                                "name or no label and were ignored. Each row needs both: filename,label.",
                                {"count": bad_rows}))
    if unlabelled:
        findings.append(Finding("info", "labels_csv_unlabelled_files", f"{len(unlabelled)} image(s) are not listed "
                                f"in {LABELS_FILE} and were left out. Add a row for each one you want to use.",
                                {"count": len(unlabelled), "files": unlabelled[:MAX_LISTED]}))
    return findings
