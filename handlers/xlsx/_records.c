/* The C accelerator of handlers/xlsx/cells.py's records(): the same records, without a Python step
 * per cell. The module also holds the sheet-area pre-check's cell scan (_cell_scan.c).
 *
 * cells.python_records is the reference: this module must give equal records, with values of the
 * same types, for every input (tests/handlers/test_native_records.py compares them). It runs once
 * per cell of every table of a big sheet; in Python the loop and the dict(zip(...)) per row cost a
 * third of calamine's own read.
 *
 * No state lives at module level except CPython's datetime C API capsule (PyDateTime_IMPORT), which
 * is read-only and shared by every extension that uses datetime objects.
 */
#include "_cell_scan.h"

#include <datetime.h>

/* Beyond 2**53 a float no longer represents every integer exactly: as cells._EXACT_FLOAT_INT. */
#define EXACT_FLOAT_INT 9007199254740992.0
/* Distinct dates whose text one call keeps at once: as cells._ISO_TEXTS. */
#define ISO_TEXTS 4096

/* A dict with room for n keys. _PyDict_NewPresized is CPython's own (private, 3.11-3.13); a later
 * Python that drops it gets dicts that grow as keys are added, the same dicts a little slower. */
#if PY_VERSION_HEX < 0x030E0000
#define NEW_DICT(n) _PyDict_NewPresized(n)
#else
#define NEW_DICT(n) PyDict_New()
#endif

/* What one records() call shares between its cells. */
typedef struct {
    PyObject *fallback;  /* cells.to_json: every kind not converted here */
    PyObject *iso;       /* dict date -> its isoformat() text, at most ISO_TEXTS entries */
    PyObject *isoformat; /* the method name */
    PyObject *empty;     /* "" (for the comparisons of kinds other than the known ones) */
} Context;

/* value == "" as Python decides it; the kinds calamine returns are answered without a call.
 * Returns 1, 0, or -1 with an exception set. */
static int
is_empty(PyObject *value, const Context *context)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        return PyUnicode_GET_LENGTH(value) == 0;
    }
    if (kind == &PyFloat_Type || kind == &PyLong_Type || kind == &PyBool_Type || value == Py_None
        || PyDate_CheckExact(value) || PyDateTime_CheckExact(value)) {
        return 0;
    }
    return PyObject_RichCompareBool(value, context->empty, Py_EQ);
}

/* A row is blank when every cell is "" (the Python's row[0] == "" and row.count("") == len(row)).
 * Every cell is compared, as list.count does, once the first is empty. `cells` is a list or tuple
 * (PySequence_Fast); its size is read again at each cell, as a comparison may run Python code. */
static int
is_blank(PyObject *cells, const Context *context)
{
    int blank = 1;
    for (Py_ssize_t index = 0; blank == 1 && index < PySequence_Fast_GET_SIZE(cells); index++) {
        blank = is_empty(PySequence_Fast_GET_ITEM(cells, index), context);
    }
    return blank;
}

/* A date's (or datetime's) text, converted once per distinct value while the cache holds it. */
static PyObject *
iso_text(PyObject *value, const Context *context)
{
    PyObject *text = PyDict_GetItemWithError(context->iso, value);
    if (text != NULL) {
        return Py_NewRef(text);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (PyDict_GET_SIZE(context->iso) >= ISO_TEXTS) {
        PyDict_Clear(context->iso);
    }
    text = PyObject_CallMethodNoArgs(value, context->isoformat);
    if (text != NULL && PyDict_SetItem(context->iso, value, text) < 0) {
        Py_CLEAR(text);
    }
    return text;
}

/* One calamine value as JSON (a new reference), exactly as cells.to_json converts it. */
static PyObject *
convert(PyObject *value, const Context *context)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyFloat_Type) {
        double number = PyFloat_AS_DOUBLE(value);
        /* NaN fails both comparisons; infinities fail one. */
        if (number >= -EXACT_FLOAT_INT && number <= EXACT_FLOAT_INT && number == (double)(long long)number) {
            return PyLong_FromLongLong((long long)number);
        }
        return Py_NewRef(value);
    }
    if (kind == &PyUnicode_Type) {
        /* calamine reports empty cells (and error values such as #DIV/0!) as "". */
        return PyUnicode_GET_LENGTH(value) == 0 ? Py_NewRef(Py_None) : Py_NewRef(value);
    }
    if (PyDate_CheckExact(value) || PyDateTime_CheckExact(value)) {
        return iso_text(value, context);
    }
    if (value == Py_None || kind == &PyBool_Type || kind == &PyLong_Type) {
        return Py_NewRef(value); /* to_json returns these as they are */
    }
    return PyObject_CallOneArg(context->fallback, value);
}

/* Every header mapped to None, in order: the shape each full row's record is copied from. */
static PyObject *
template_of(PyObject *headers)
{
    Py_ssize_t width = PyTuple_GET_SIZE(headers);
    PyObject *template = NEW_DICT(width);
    for (Py_ssize_t index = 0; template != NULL && index < width; index++) {
        if (PyDict_SetItem(template, PyTuple_GET_ITEM(headers, index), Py_None) < 0) {
            Py_CLEAR(template);
        }
    }
    return template;
}

/* dict(zip(headers, converted cells)): a row shorter than the headers gives fewer keys, the cells past
 * the headers are converted (as the Python converts them before zip) and dropped. A full row starts
 * from a copy of `*template` (every header, in order), so its values replace and nothing is inserted.
 * The row's size and items are read again at each cell: to_json may run Python code. */
static PyObject *
record(PyObject *cells, PyObject *headers, PyObject **template, const Context *context)
{
    Py_ssize_t width = PyTuple_GET_SIZE(headers), size = PySequence_Fast_GET_SIZE(cells);
    if (size >= width && *template == NULL) {
        *template = template_of(headers); /* made at the first full row, as zip() meets the keys */
        if (*template == NULL) {
            return NULL;
        }
    }
    PyObject *out = size >= width ? PyDict_Copy(*template) : NEW_DICT(size);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t index = 0; index < PySequence_Fast_GET_SIZE(cells); index++) {
        /* Borrowed: a Python call made on it (to_json) holds its own reference for as long as it runs. */
        PyObject *value = convert(PySequence_Fast_GET_ITEM(cells, index), context);
        if (value == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        int failed = index < width ? PyDict_SetItem(out, PyTuple_GET_ITEM(headers, index), value) : 0;
        Py_DECREF(value);
        if (failed < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* Appends the record of one row to `out` (nothing for an empty or blank row); 0, or -1 on error. */
static int
add_row(PyObject *out, PyObject *row, PyObject *headers, PyObject **template, const Context *context)
{
    PyObject *cells = PySequence_Fast(row, "records: each row must be a sequence");
    if (cells == NULL) {
        return -1;
    }
    int result = 0;
    int blank = is_blank(cells, context); /* an empty row is blank too */
    if (blank < 0) {
        result = -1;
    }
    else if (!blank) {
        PyObject *made = record(cells, headers, template, context);
        result = made == NULL ? -1 : PyList_Append(out, made);
        Py_XDECREF(made);
    }
    Py_DECREF(cells);
    return result;
}

static PyObject *
records_loop(PyObject *rows, PyObject *headers, const Context *context)
{
    PyObject *template = NULL;
    PyObject *iterator = PyObject_GetIter(rows);
    PyObject *out = iterator == NULL ? NULL : PyList_New(0);
    if (out != NULL) {
        PyObject *row;
        while ((row = PyIter_Next(iterator)) != NULL) {
            int failed = add_row(out, row, headers, &template, context);
            Py_DECREF(row);
            if (failed < 0) {
                break;
            }
        }
        if (PyErr_Occurred()) {
            Py_CLEAR(out);
        }
    }
    Py_XDECREF(iterator);
    Py_XDECREF(template);
    return out;
}

static PyObject *
records(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "records() takes 3 arguments (headers, rows, to_json), %zd given", nargs);
        return NULL;
    }
    if (!PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "records(): to_json must be callable");
        return NULL;
    }
    /* A tuple: nothing the conversions run can change the keys under the loop. */
    PyObject *headers = PySequence_Tuple(args[0]);
    if (headers == NULL) {
        return NULL;
    }
    Context context = {args[2], PyDict_New(), PyUnicode_InternFromString("isoformat"), PyUnicode_New(0, 0)};
    PyObject *out = NULL;
    if (context.iso != NULL && context.isoformat != NULL && context.empty != NULL) {
        out = records_loop(args[1], headers, &context);
    }
    Py_XDECREF(context.iso);
    Py_XDECREF(context.isoformat);
    Py_XDECREF(context.empty);
    Py_DECREF(headers);
    return out;
}

static PyMethodDef methods[] = {
    {"records", (PyCFunction)(void (*)(void))records, METH_FASTCALL,
     "records(headers, rows, to_json) -> list of dicts: cells.records in C (to_json converts the rare kinds)."},
    {"scan_cells", (PyCFunction)(void (*)(void))scan_cells, METH_FASTCALL,
     "scan_cells(chunk, letters, digits) -> (letters, digits, odd): sheet_area's _Bound.feed in C."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return -1;
    }
    /* The bounds, for the test that they are cells.py's. */
    PyObject *limit = PyLong_FromLongLong((long long)EXACT_FLOAT_INT);
    if (limit == NULL || PyModule_AddObject(module, "EXACT_FLOAT_INT", limit) < 0) {
        Py_XDECREF(limit);
        return -1;
    }
    return PyModule_AddIntConstant(module, "ISO_TEXTS", ISO_TEXTS);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "handlers.xlsx._records",
    .m_doc = "The extract's C parts: calamine rows as JSON records, and the sheet-area pre-check's cell scan.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    return PyModuleDef_Init(&definition);
}
