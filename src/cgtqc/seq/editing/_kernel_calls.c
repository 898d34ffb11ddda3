/* Window calls of cgtqc.seq.editing._kernel: the modification calls of an alignment (call_read), the base
 * counts, the allele rows and the alignment texts the batch kept. */
#include "_kernel.h"

/* the window calls of one alignment (declared in _kernel.h) */
Calls call_read(const uint8_t *aln_read, const uint8_t *aln_ref, int64_t k, const uint8_t *include, int64_t L,
                int64_t *refpos) {
    Calls c = {0, 0, 0, 0, 0, 0};
    int64_t idx = 0, start_ins = -1, cur_ins = 0, start_del = -1;
    for (int64_t col = 0; col < k; col++) {
        const uint8_t rc = aln_ref[col], qc = aln_read[col];
        if (rc != GAP) {
            refpos[col] = idx;
            if (rc != qc && qc != GAP && qc != N_BASE) {
                c.all_sub++;
                if (idx < L && include[idx]) c.sub_n++;
            }
            if (start_ins != -1) {
                c.all_ins++;
                if (start_ins < L && idx < L && include[start_ins] && include[idx]) c.ins_n += cur_ins;
                start_ins = -1;
            }
            cur_ins = 0;
            idx++;
        } else {
            refpos[col] = idx == 0 ? -1 : -idx;
            if (idx > 0 && start_ins == -1) start_ins = idx - 1;
            cur_ins++;
        }
        if (qc == GAP && start_del == -1) {
            start_del = col >= 1 ? refpos[col] : 0;
        } else if (qc != GAP && start_del != -1) {
            int64_t end_del = refpos[col];
            c.all_del++;
            for (int64_t p = imax(start_del, 0); p < imin(end_del, L); p++)
                if (include[p]) {
                    c.del_n += end_del - start_del;
                    break;
                }
            start_del = -1;
        }
    }
    if (start_del != -1) {
        int64_t end_del = refpos[k - 1] + 1;
        c.all_del++;
        for (int64_t p = imax(start_del, 0); p < imin(end_del, L); p++)
            if (include[p]) {
                c.del_n += end_del - start_del;
                break;
            }
    }
    return c;
}

KERNEL_DOC(call_read_doc,
           "call_read(aln_read, aln_ref, include) -> (insertion_n, deletion_n, substitution_n, all insertions, "
           "all deletions, all substitutions)\n\nModification calls of one alignment: inside the window "
           "(bool mask over reference positions) and anywhere.");

PyObject *py_call_read(PyObject *self, PyObject *args) {
    PyObject *o[3];
    if (!PyArg_UnpackTuple(args, "call_read", 3, 3, &o[0], &o[1], &o[2])) return NULL;
    Arr a[3] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "aln_read", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "aln_ref", 'u', 1, 1, 0) < 0 ||
        get(o[2], &a[2], "include", 'b', 1, 1, 0) < 0)
        goto done;
    int64_t k = len0(&a[1]);
    if (len0(&a[0]) < k) {
        fail(PyExc_ValueError, "aln_read: shorter than aln_ref");
        goto done;
    }
    int64_t stack[512];
    int64_t *refpos = k <= 512 ? stack : malloc(sizeof(int64_t) * (size_t)k);
    if (!refpos) {
        PyErr_NoMemory();
        goto done;
    }
    Calls c = call_read(U8(a[0]), U8(a[1]), k, U8(a[2]), len0(&a[2]), refpos);
    if (refpos != stack) free(refpos);
    ret = Py_BuildValue("(LLLLLL)", (long long)c.ins_n, (long long)c.del_n, (long long)c.sub_n,
                        (long long)c.all_ins, (long long)c.all_del, (long long)c.all_sub);
done:
    release(a, 3);
    return ret;
}

KERNEL_DOC(add_base_counts_doc,
           "add_base_counts(aln_read, aln_ref, counts, weight)\n\nAdd ``weight`` for the read's base (A C G T N "
           "-) at every reference position to ``counts`` (int64, 6 x L).");

PyObject *py_add_base_counts(PyObject *self, PyObject *args) {
    PyObject *o[3];
    long long weight;
    if (!PyArg_ParseTuple(args, "OOOL:add_base_counts", &o[0], &o[1], &o[2], &weight)) return NULL;
    Arr a[3] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "aln_read", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "aln_ref", 'u', 1, 1, 0) < 0 ||
        get(o[2], &a[2], "counts", 'i', 8, 2, 1) < 0)
        goto done;
    if (a[2].b.shape[0] != 6) {
        fail(PyExc_ValueError, "counts: expected 6 rows (A C G T N -)");
        goto done;
    }
    int64_t k = len0(&a[1]), L = a[2].b.shape[1], idx = 0;
    if (len0(&a[0]) < k) {
        fail(PyExc_ValueError, "aln_read: shorter than aln_ref");
        goto done;
    }
    const uint8_t *ar = U8(a[0]), *bf = U8(a[1]);
    int64_t *counts = I64(a[2]);
    for (int64_t c = 0; c < k; c++) {
        if (bf[c] == GAP) continue;
        uint8_t q = ar[c];
        int r = q == 'A' ? 0 : q == 'C' ? 1 : q == 'G' ? 2 : q == 'T' ? 3 : q == GAP ? 5 : 4;
        if (idx < L) counts[r * L + idx] += weight;
        idx++;
    }
    ret = Py_NewRef(Py_None);
done:
    release(a, 3);
    return ret;
}

KERNEL_DOC(allele_rows_doc,
           "allele_rows(cls, alns, ref_index, names, reads, includes, modified, unmodified) -> list\n\nOne ``cls`` "
           "row (a tuple subclass: Allele) per j with reads[j] > 0: (aligned, reference, names[j], status, "
           "n_deleted, n_inserted, n_mutated, reads[j]) from the alignment alns[j] = (aligned read, aligned "
           "reference), the counts called in the window includes[ref_index[j]] and the status ``modified`` "
           "when any is non-zero.");

PyObject *py_allele_rows(PyObject *self, PyObject *args) {
    PyObject *cls, *alns, *refi, *names, *reads, *includes, *modified, *unmodified;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!UU:allele_rows", &PyType_Type, &cls, &PyList_Type, &alns,
                          &PyList_Type, &refi, &PyList_Type, &names, &PyList_Type, &reads, &PyList_Type,
                          &includes, &modified, &unmodified))
        return NULL;
    PyTypeObject *type = (PyTypeObject *)cls;
    if (!PyType_IsSubtype(type, &PyTuple_Type) || type->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "allele_rows: cls must be a tuple subclass without a __dict__");
        return NULL;
    }
    const Py_ssize_t nref = PyList_GET_SIZE(includes), n = PyList_GET_SIZE(alns);
    if (PyList_GET_SIZE(refi) != n || PyList_GET_SIZE(names) != n || PyList_GET_SIZE(reads) != n) {
        PyErr_SetString(PyExc_ValueError, "allele_rows: alns, ref_index, names and reads need one entry each");
        return NULL;
    }
    Arr *inc = calloc((size_t)nref + 1, sizeof(Arr));
    PyObject *out = NULL;
    int64_t *refpos = NULL;
    size_t cap = 0;
    if (!inc) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nref; i++)
        if (get(PyList_GET_ITEM(includes, i), &inc[i], "include", 'b', 1, 1, 0) < 0) goto fail;
    out = PyList_New(0);
    if (!out) goto fail;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *count = PyList_GET_ITEM(reads, j);
        const long long nr = PyLong_AsLongLong(count);
        if (nr == -1 && PyErr_Occurred()) goto fail;
        if (nr == 0) continue;
        PyObject *pk = PyList_GET_ITEM(alns, j);
        if (!PyTuple_Check(pk) || PyTuple_GET_SIZE(pk) != 2) {
            PyErr_SetString(PyExc_TypeError, "allele_rows: an alignment is not an (aligned read, reference) pair");
            goto fail;
        }
        Py_ssize_t la, lr;
        const char *x = ascii_of(PyTuple_GET_ITEM(pk, 0), &la, "aligned read");
        const char *y = x ? ascii_of(PyTuple_GET_ITEM(pk, 1), &lr, "aligned reference") : NULL;
        if (!y) goto fail;
        Py_ssize_t ri = PyLong_AsSsize_t(PyList_GET_ITEM(refi, j));
        if (ri == -1 && PyErr_Occurred()) goto fail;
        if (ri < 0 || ri >= nref || la < lr) {
            PyErr_SetString(PyExc_ValueError, "allele_rows: bad reference index or alignment");
            goto fail;
        }
        if ((size_t)lr + 1 > cap) {
            free(refpos);
            cap = (size_t)lr * 2 + 64;
            refpos = malloc(sizeof(int64_t) * cap);
            if (!refpos) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        Calls c = call_read((const uint8_t *)x, (const uint8_t *)y, lr, U8(inc[ri]), len0(&inc[ri]), refpos);
        PyObject *nd = PyLong_FromLongLong(c.del_n), *ni = PyLong_FromLongLong(c.ins_n);
        PyObject *nm = PyLong_FromLongLong(c.sub_n);
        PyObject *row = nd && ni && nm ? type->tp_alloc(type, 8) : NULL; /* items start NULL */
        if (!row) {
            Py_XDECREF(nd);
            Py_XDECREF(ni);
            Py_XDECREF(nm);
            goto fail;
        }
        PyObject *status = c.ins_n + c.del_n + c.sub_n > 0 ? modified : unmodified;
        PyTuple_SET_ITEM(row, 0, Py_NewRef(PyTuple_GET_ITEM(pk, 0)));
        PyTuple_SET_ITEM(row, 1, Py_NewRef(PyTuple_GET_ITEM(pk, 1)));
        PyTuple_SET_ITEM(row, 2, Py_NewRef(PyList_GET_ITEM(names, j)));
        PyTuple_SET_ITEM(row, 3, Py_NewRef(status));
        PyTuple_SET_ITEM(row, 4, nd);
        PyTuple_SET_ITEM(row, 5, ni);
        PyTuple_SET_ITEM(row, 6, nm);
        PyTuple_SET_ITEM(row, 7, Py_NewRef(count));
        int err = PyList_Append(out, row);
        Py_DECREF(row);
        if (err < 0) goto fail;
    }
    free(refpos);
    release(inc, (int)nref);
    free(inc);
    return out;
fail:
    free(refpos);
    release(inc, (int)nref);
    free(inc);
    Py_XDECREF(out);
    return NULL;
}

KERNEL_DOC(alignment_texts_doc,
           "alignment_texts(buf, starts, lengths, ref_len, offs, rows, out)\n\nThe alignments the batch kernel "
           "kept (see align_and_call's ``emit``) as str pairs: for each read r of ``rows``, out[r] = (aligned "
           "read, aligned reference) when lengths[r] >= 0 (the reference row lies ref_len + read length bytes "
           "after the read row; read lengths from ``offs``); other entries of ``out`` are left alone.");

PyObject *py_alignment_texts(PyObject *self, PyObject *args) {
    PyObject *o[4], *rows, *out;
    long long ref_len;
    if (!PyArg_ParseTuple(args, "OOOLOO!O!:alignment_texts", &o[0], &o[1], &o[2], &ref_len, &o[3], &PyList_Type,
                          &rows, &PyList_Type, &out))
        return NULL;
    Arr a[4] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "buf", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "starts", 'i', 8, 1, 0) < 0 ||
        get(o[2], &a[2], "lengths", 'i', 8, 1, 0) < 0 || get(o[3], &a[3], "offs", 'i', 8, 1, 0) < 0)
        goto done;
    const int64_t n = len0(&a[1]), size = len0(&a[0]);
    const int64_t *st = I64(a[1]), *ln = I64(a[2]), *offs = I64(a[3]);
    const char *buf = (const char *)a[0].b.buf;
    if (len0(&a[2]) < n || len0(&a[3]) < n + 1 || PyList_GET_SIZE(out) < n) {
        fail(PyExc_ValueError, "alignment_texts: starts, lengths, offs and out need one entry per read");
        goto done;
    }
    for (Py_ssize_t q = 0; q < PyList_GET_SIZE(rows); q++) {
        Py_ssize_t r = PyLong_AsSsize_t(PyList_GET_ITEM(rows, q));
        if (r == -1 && PyErr_Occurred()) goto done;
        if (r < 0 || r >= n) {
            fail(PyExc_ValueError, "alignment_texts: a row is out of range");
            goto done;
        }
        const int64_t k = ln[r];
        if (k < 0) continue;
        const int64_t p = st[r] + ref_len + (offs[r + 1] - offs[r]);
        if (st[r] < 0 || p < 0 || st[r] + k > size || p + k > size) {
            fail(PyExc_ValueError, "alignment_texts: an alignment lies outside the buffer");
            goto done;
        }
        PyObject *x = PyUnicode_DecodeLatin1(buf + st[r], (Py_ssize_t)k, NULL);
        PyObject *y = x ? PyUnicode_DecodeLatin1(buf + p, (Py_ssize_t)k, NULL) : NULL;
        PyObject *t = y ? PyTuple_Pack(2, x, y) : NULL;
        Py_XDECREF(x);
        Py_XDECREF(y);
        if (!t) goto done;
        if (PyList_SetItem(out, r, t) < 0) goto done; /* steals t */
    }
    ret = Py_NewRef(Py_None);
done:
    release(a, 4);
    return ret;
}
