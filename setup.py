"""Build of the compiled parts (the editing engine's kernel, the FASTQ counting pass); everything else is
declared in pyproject.toml."""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=c11", "-Wall", "-Wno-unused-parameter"]
SEQ = "src/cgtqc/seq/"
EDITING = SEQ + "editing/"
KERNEL = ["_kernel.c", "_kernel_align.c", "_kernel_batch.c", "_kernel_calls.c", "_kernel_tables.c"]

setup(
    ext_modules=[
        Extension(
            "cgtqc.seq.editing._kernel",
            [EDITING + name for name in KERNEL],
            depends=[EDITING + "_kernel.h", SEQ + "_hash.h"],
            extra_compile_args=FLAGS,
        ),
        Extension(
            "cgtqc.seq._fastq", [SEQ + "_fastq.c"], depends=[SEQ + "_hash.h"], extra_compile_args=FLAGS
        ),
    ]
)
