"""Builds the C accelerator of cells.records in place: `python setup.py build_ext --inplace`.

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
            ["handlers/xlsx/_records.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        )
    ],
)
