/* The compiled kernels of the editing engine (cgtqc.seq.editing._kernel).
 *
 * Alignment: CRISPResso2-compatible banded Gotoh alignment with its certificate of exactness (align, and
 * align_batch for many reads with the strand seeds, the LCS bound of the both-strand choice and the window
 * calls); the recurrence, its tie-breaking and the certificate are documented in align.py, the batch rules
 * in batch.py. Counting and tables: call_read, add_base_counts, rc_pairs (the reverse-complement merge),
 * allele_rows, alignment_texts, sort_alleles, allele_table_bytes and around_cut_groups (CRISPResso2's allele
 * tables, documented in allele_table.py and pipeline.py). Each is tested against a plain-Python statement of
 * its rule.
 *
 * Every entry point checks the element type, dimensions and sizes of its arrays (any object with the buffer
 * protocol) before touching them, so a bad argument raises TypeError or ValueError, never a crash. The
 * alignment kernels release the GIL while they compute, so the pipeline's threads run in parallel. Scores are
 * 64-bit integers.
 *
 * Sources: this file (the module table and the argument checks), _kernel_align.c (the aligner, align),
 * _kernel_batch.c (strand seeds, LCS bound, align_batch, lcs_length), _kernel_calls.c (call_read,
 * add_base_counts, allele_rows, alignment_texts), _kernel_tables.c (rc_pairs, around_cut_groups, sort_alleles,
 * allele_table_bytes); _kernel.h declares what they share.
 */
#include "_kernel.h"

/* ------------------------------------------------------------------ argument checks */

void release(Arr *a, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].held) {
            PyBuffer_Release(&a[i].b);
            a[i].held = 0;
        }
}

/* kind: 'u' unsigned, 'i' signed, 'b' bool or byte; size in bytes */
static int format_ok(const char *fmt, char kind, Py_ssize_t size, Py_ssize_t itemsize) {
    if (itemsize != size) return 0;
    if (fmt == NULL) return kind == 'u' && size == 1;
    if (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '|') fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0') return 0;
    char c = fmt[0];
    switch (kind) {
    case 'u': return c == 'B' || c == 'H' || c == 'I' || c == 'L' || c == 'Q' || (size == 1 && c == 'c');
    case 'i': return c == 'b' || c == 'h' || c == 'i' || c == 'l' || c == 'q';
    case 'b': return c == '?' || c == 'B' || c == 'b' || c == 'c';
    }
    return 0;
}

/* Take a C-contiguous buffer of ``ndim`` dimensions and the given element kind and size. */
int get(PyObject *obj, Arr *a, const char *name, char kind, Py_ssize_t size, int ndim, int writable) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->b, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a %sC-contiguous array, got %.80s", name,
                     writable ? "writable " : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    a->held = 1;
    const char *kinds = kind == 'u' ? "unsigned" : (kind == 'i' ? "signed" : "bool/uint8");
    if (!format_ok(a->b.format, kind, size, a->b.itemsize)) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s %zd-byte elements, got format '%s' of %zd bytes", name,
                     kinds, size, a->b.format ? a->b.format : "B", a->b.itemsize);
        return -1;
    }
    if (ndim > 0 && a->b.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimension(s), got %d", name, ndim, a->b.ndim);
        return -1;
    }
    return 0;
}

int fail(PyObject *exc, const char *msg) {
    PyErr_SetString(exc, msg);
    return -1;
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"align", py_align, METH_VARARGS, align_doc},
    {"align_batch", py_align_batch, METH_VARARGS, align_batch_doc},
    {"call_read", py_call_read, METH_VARARGS, call_read_doc},
    {"add_base_counts", py_add_base_counts, METH_VARARGS, add_base_counts_doc},
    {"lcs_length", py_lcs_length, METH_VARARGS, lcs_length_doc},
    {"rc_pairs", py_rc_pairs, METH_O, rc_pairs_doc},
    {"sort_alleles", py_sort_alleles, METH_O, sort_alleles_doc},
    {"allele_table_bytes", py_allele_table_bytes, METH_VARARGS, allele_table_bytes_doc},
    {"allele_rows", py_allele_rows, METH_VARARGS, allele_rows_doc},
    {"alignment_texts", py_alignment_texts, METH_VARARGS, alignment_texts_doc},
    {"around_cut_groups", py_around_cut_groups, METH_VARARGS, around_cut_groups_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "Compiled kernels of the editing engine (alignment, strand seeds, window calls).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    base_code();
    return PyModule_Create(&module);
}
