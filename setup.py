"""Build of the compiled parts (the editing engine's kernel, the FASTQ counting pass); everything else is
declared in pyproject.toml."""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c11", "-Wall", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("cgtqc.seq.editing._kernel", ["src/cgtqc/seq/editing/_kernel.c"], extra_compile_args=FLAGS),
        Extension("cgtqc.seq._fastq", ["src/cgtqc/seq/_fastq.c"], extra_compile_args=FLAGS),
    ]
)
