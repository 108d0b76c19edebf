/* The sheet-area pre-check's scan of cell tags (handlers/xlsx/sheet_area.py, step 1) in C.
 *
 * sheet_area._Bound.feed (regular expressions) is the reference: scan_cells must give the
 * same (letters, digits, odd) for every chunk and starting bound (tests/handlers/test_native_scan.py).
 * In Python every cell tag is a hit that the regex engine evaluates (two lookaheads): ~100 ns per cell,
 * a tenth of calamine's own read on a big sheet, and more than a third of it on a sheet of a million
 * styled empty cells. Here a cell costs a memchr step and a few byte compares.
 */
#include "_cell_scan.h"

#include <string.h>

typedef struct {
    const unsigned char *at;
    const unsigned char *end;
} Cursor;

/* Bytes patterns' \s, \w (ASCII). */
static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
is_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_name(unsigned char c)
{
    return is_letter(c) || is_digit(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

static int
starts(const unsigned char *at, const unsigned char *end, const char *text, size_t length)
{
    return (size_t)(end - at) >= length && memcmp(at, text, length) == 0;
}

/* The length of the run of bytes from `at` that `accept` takes. */
static size_t
run(const unsigned char *at, const unsigned char *end, int (*accept)(unsigned char))
{
    const unsigned char *start = at;
    while (at < end && accept(*at)) {
        at++;
    }
    return (size_t)(at - start);
}

/* After `<c`: ` r="` letters digits `"` (the Python's _PLAIN_REFERENCE). On success the run lengths
 * are stored and the position after the closing quote is returned; NULL otherwise. */
static const unsigned char *
plain_reference(const unsigned char *at, const unsigned char *end, size_t *letters, size_t *digits)
{
    if (!starts(at, end, " r=\"", 4)) {
        return NULL;
    }
    at += 4;
    *letters = run(at, end, is_letter);
    at += *letters;
    *digits = run(at, end, is_digit);
    at += *digits;
    if (*letters == 0 || *digits == 0 || at >= end || *at != '"') {
        return NULL;
    }
    return at + 1;
}

/* After `<c`: a self-closed cell spelt plainly, the Python's _NOT_SELF_CLOSED: ` r="[^"]*"`, then any
 * ` [\w:.-]+="[^"]*"` attributes, then a slash and `>`. */
static int
plain_self_closed(const unsigned char *at, const unsigned char *end)
{
    if (!starts(at, end, " r=\"", 4)) {
        return 0;
    }
    at = memchr(at + 4, '"', (size_t)(end - at - 4));
    if (at == NULL) {
        return 0;
    }
    at++;
    for (;;) {
        size_t name = at < end && *at == ' ' ? run(at + 1, end, is_name) : 0;
        if (name == 0 || !starts(at + 1 + name, end, "=\"", 2)) {
            break;
        }
        const unsigned char *value = at + 1 + name + 2;
        const unsigned char *quote = memchr(value, '"', (size_t)(end - value));
        if (quote == NULL) {
            break;
        }
        at = quote + 1;
    }
    return starts(at, end, "/>", 2);
}

/* Does the Python's pattern (_NOT_SHORT + _NOT_SELF_CLOSED for the bound) match at this `<c`?
 * `at` is just past the `<c`. */
static int
not_short(const unsigned char *at, const unsigned char *end, size_t letters, size_t digits)
{
    if (at >= end || !(is_space(*at) || *at == '/' || *at == '>')) {
        return 0;
    }
    size_t found_letters, found_digits;
    if (plain_reference(at, end, &found_letters, &found_digits) != NULL && found_letters <= letters
        && found_digits <= digits) {
        return 0;
    }
    return !plain_self_closed(at, end);
}

/* The rest of a tag to its `>`, quotes respected (the Python's _TAG_REST): is it self-closed? */
static int
self_closed(const unsigned char *at, const unsigned char *end)
{
    const unsigned char *start = at;
    while (at < end && *at != '>') {
        if (*at == '"' || *at == '\'') {
            const unsigned char *close = memchr(at + 1, *at, (size_t)(end - at - 1));
            if (close == NULL) {
                return 0; /* no `>` outside quotes: the Python's match fails, so not self-closed */
            }
            at = close;
        }
        at++;
    }
    return at < end && at - start >= 1 && at[-1] == '/';
}

/* A namespace-prefixed cell tag anywhere, as <x:c> (the Python's _PREFIXED_CELL, `:c[\s/>]`). */
static int
prefixed(const unsigned char *at, const unsigned char *end)
{
    while ((at = memchr(at, ':', (size_t)(end - at))) != NULL) {
        if (end - at >= 3 && at[1] == 'c' && (is_space(at[2]) || at[2] == '/' || at[2] == '>')) {
            return 1;
        }
        at++;
    }
    return 0;
}

/* _Bound.feed over one chunk: a prefixed cell tag anywhere, else _note_longest. Returns 0, or 1 when a
 * cell is placed otherwise (odd). */
static int
scan(const unsigned char *at, const unsigned char *end, size_t *letters, size_t *digits)
{
    if (prefixed(at, end)) {
        return 1;
    }
    while ((at = memchr(at, '<', (size_t)(end - at))) != NULL) {
        if (!(at + 1 < end && at[1] == 'c') || !not_short(at + 2, end, *letters, *digits)) {
            at++;
            continue;
        }
        size_t found_letters, found_digits;
        const unsigned char *after = plain_reference(at + 2, end, &found_letters, &found_digits);
        if (after == NULL) {
            if (starts(at, end, "<c r=\"", 6)) {
                at++; /* not a reference calamine reads: it refuses the sheet */
                continue;
            }
            return 1;
        }
        at = after;
        if (self_closed(at, end)) {
            continue; /* self-closed, its attributes spelt otherwise: no value either */
        }
        *letters = found_letters > *letters ? found_letters : *letters;
        *digits = found_digits > *digits ? found_digits : *digits;
    }
    return 0;
}

PyObject *
scan_cells(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t letters, digits;
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scan_cells() takes (chunk: bytes, letters: int, digits: int)");
        return NULL;
    }
    letters = PyLong_AsSsize_t(args[1]);
    digits = letters < 0 ? -1 : PyLong_AsSsize_t(args[2]);
    if (digits < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "scan_cells(): letters and digits must be >= 0");
        }
        return NULL;
    }
    size_t found_letters = (size_t)letters, found_digits = (size_t)digits;
    const unsigned char *start = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    int odd;
    Py_BEGIN_ALLOW_THREADS
    odd = scan(start, start + PyBytes_GET_SIZE(args[0]), &found_letters, &found_digits);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(nnO)", (Py_ssize_t)found_letters, (Py_ssize_t)found_digits, odd ? Py_True : Py_False);
}
