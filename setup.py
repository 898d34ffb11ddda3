"""Build of the compiled kernel of the editing engine; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cgtqc.seq.editing._kernel",
            ["src/cgtqc/seq/editing/_kernel.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wno-unused-parameter"],
        )
    ]
)
