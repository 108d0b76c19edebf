"""Builds the extract's C accelerator in place: `python setup.py build_ext --inplace`.

It holds cells.records and the sheet-area pre-check's cell scan (handlers/xlsx/native.py loads it).
Needs a C compiler and Python's headers (Debian: gcc and python3-dev; the python images have the
headers). The project is not installed as a package: `packages=[]` keeps setuptools from looking for
packages to install (and from reading the flat layout as several).
"""

from setuptools import Extension, setup

setup(
    packages=[],
    ext_modules=[
        Extension(
            "handlers.xlsx._records",
            ["handlers/xlsx/_records.c", "handlers/xlsx/_cell_scan.c"],
            depends=["handlers/xlsx/_cell_scan.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        )
    ],
)
