/* What the source files of cgtqc.seq.editing._kernel share (the entry points are listed in _kernel.c):
 * integer helpers, the checked buffers of the arguments, the alignment work buffers, the window calls and
 * the entry points the module table names. Everything declared here stays inside the extension. */
#ifndef CGTQC_EDITING_KERNEL_H
#define CGTQC_EDITING_KERNEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define GAP 45    /* '-' */
#define N_BASE 78 /* 'N' */

static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t iabs(int64_t a) { return a < 0 ? -a : a; }
static inline int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

/* A docstring the module table in _kernel.c names. */
#define KERNEL_DOC(name, str) const char name[] = PyDoc_STR(str)

#pragma GCC visibility push(hidden)

/* ------------------------------------------------------------------ argument checks (_kernel.c) */

typedef struct {
    Py_buffer b;
    int held;
} Arr;

void release(Arr *a, int n);
/* Take a C-contiguous buffer of ``ndim`` dimensions (any when 0) with elements of ``kind`` ('u' unsigned,
 * 'i' signed, 'b' bool or byte) and ``size`` bytes; -1 with TypeError or ValueError set when it is not. */
int get(PyObject *obj, Arr *a, const char *name, char kind, Py_ssize_t size, int ndim, int writable);
/* Set ``exc`` with ``msg``; returns -1. */
int fail(PyObject *exc, const char *msg);

static inline Py_ssize_t len0(Arr *a) { return a->b.ndim == 0 ? 1 : a->b.shape[0]; }
#define U8(a) ((uint8_t *)(a).b.buf)
#define I64(a) ((int64_t *)(a).b.buf)

/* The characters of a str of one-byte characters, or NULL with TypeError naming ``what``. */
static inline const char *ascii_of(PyObject *s, Py_ssize_t *n, const char *what) {
    if (!PyUnicode_Check(s) || PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_TypeError, "%s: expected str of one-byte characters", what);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(s);
    return (const char *)PyUnicode_1BYTE_DATA(s);
}

/* ------------------------------------------------------------------ alignment (_kernel_align.c) */

typedef struct {
    const uint8_t *ref;
    int64_t m;
    const int64_t *inc;
    const int64_t *mat; /* 256 x 256 */
    int64_t gap_open, gap_extend, band, per_gap2;
    uint8_t *ptr;
    uint8_t *out_read, *out_ref;
    int64_t *S; /* (m + 1, W, 3): the Cells of every row */
    int64_t W;
    uint8_t *prev;
    int64_t *state;
} Work;

/* Banded alignment of ``read`` accepted only with its certificate of exactness (written reversed into
 * w->out_read/out_ref); returns the number of columns, the identical ones in ``ident_out``. ``suf`` is a work
 * array of n + m + 2 entries. */
int64_t align_auto(Work *w, const uint8_t *read, int64_t n, int64_t *suf, int64_t *ident_out);
/* The reference, scores and work buffers of align() and align_batch() from o[0..12] into a[0..8] and ``w``,
 * checked to hold reads of up to ``n_max`` bases. */
int get_work(PyObject **o, Arr *a, Work *w, int64_t n_max);

/* ------------------------------------------------------------------ window calls (_kernel_calls.c) */

typedef struct {
    int64_t ins_n, del_n, sub_n, all_ins, all_del, all_sub;
} Calls;

/* Modification calls of one alignment (read left to right): inside the window ``include`` and anywhere.
 * ``refpos`` is a work array of ``k`` entries. */
Calls call_read(const uint8_t *aln_read, const uint8_t *aln_ref, int64_t k, const uint8_t *include, int64_t L,
                int64_t *refpos);

/* ------------------------------------------------------------------ strand seeds (_kernel_batch.c) */

/* 0..3 for A C G T, 4 for any other byte. */
const uint8_t *base_code(void);

/* ------------------------------------------------------------------ the entry points */

PyObject *py_align(PyObject *self, PyObject *args);
PyObject *py_align_batch(PyObject *self, PyObject *args);
PyObject *py_call_read(PyObject *self, PyObject *args);
PyObject *py_add_base_counts(PyObject *self, PyObject *args);
PyObject *py_lcs_length(PyObject *self, PyObject *args);
PyObject *py_rc_pairs(PyObject *self, PyObject *keys);
PyObject *py_sort_alleles(PyObject *self, PyObject *rows);
PyObject *py_allele_table_bytes(PyObject *self, PyObject *args);
PyObject *py_allele_rows(PyObject *self, PyObject *args);
PyObject *py_alignment_texts(PyObject *self, PyObject *args);
PyObject *py_around_cut_groups(PyObject *self, PyObject *args);

extern const char align_doc[], align_batch_doc[], call_read_doc[], add_base_counts_doc[], lcs_length_doc[],
    rc_pairs_doc[], sort_alleles_doc[], allele_table_bytes_doc[], allele_rows_doc[], alignment_texts_doc[],
    around_cut_groups_doc[];

#pragma GCC visibility pop

#endif
