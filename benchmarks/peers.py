"""The peers a user would otherwise reach for, run from the separate venv /work/bench-venv.

/work/bench-venv/bin/python benchmarks/peers.py lssdk-coco EXPORT.json CONFIG.xml OUTDIR
/work/bench-venv/bin/python benchmarks/peers.py datumaro-cvat-coco CVAT_DIR OUTDIR
"""

from __future__ import annotations

import sys


def lssdk_coco(export: str, config: str, outdir: str) -> None:
    """label-studio-sdk's converter: Label Studio JSON -> COCO (no image download)."""
    from label_studio_sdk.converter import Converter

    with open(config, encoding="utf-8") as fh:
        xml = fh.read()
    converter = Converter(config=xml, project_dir=None, download_resources=False)
    converter.convert_to_coco(input_data=export, output_dir=outdir, is_dir=False)


def datumaro_cvat_coco(folder: str, outdir: str) -> None:
    """Datumaro: CVAT for images 1.1 XML -> COCO instances (no media)."""
    import datumaro as dm

    dataset = dm.Dataset.import_from(folder, "cvat")
    dataset.export(outdir, "coco_instances", save_media=False)


def main() -> None:
    job, *args = sys.argv[1:]
    if job == "lssdk-coco":
        lssdk_coco(*args)
    elif job == "datumaro-cvat-coco":
        datumaro_cvat_coco(*args)
    else:
        raise SystemExit(f"unknown peer job {job!r}")


if __name__ == "__main__":
    main()
