/* The pre-check's cell scan (_cell_scan.c), a function of the _records extension module. */
#ifndef DOCJOBS_CELL_SCAN_H
#define DOCJOBS_CELL_SCAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* scan_cells(chunk: bytes, letters: int, digits: int) -> (letters, digits, odd) */
PyObject *scan_cells(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
