/* Text into an xlsx cell within its limit; see xlsx_text.h. */
#include "xlsx_text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

lxw_error xlsx_write_text(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s,
			  lxw_format *fmt)
{
	lxw_error e = worksheet_write_string(ws, row, col, s, fmt);
	size_t keep = 0, chars = 0;
	char *cut;

	if (e != LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED)
		return e;
	while (s[keep] && chars < XLSX_TEXT_KEEP) {
		keep++;
		while ((s[keep] & 0xC0) == 0x80) /* whole UTF-8 sequences only */
			keep++;
		chars++;
	}
	cut = malloc(keep + sizeof(XLSX_TEXT_CUT_NOTE));
	if (!cut)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	memcpy(cut, s, keep);
	memcpy(cut + keep, XLSX_TEXT_CUT_NOTE, sizeof(XLSX_TEXT_CUT_NOTE));
	e = worksheet_write_string(ws, row, col, cut, fmt);
	free(cut);
	return e;
}

lxw_error xlsx_close(lxw_workbook *wb)
{
	static pthread_mutex_t close_lock = PTHREAD_MUTEX_INITIALIZER;
	lxw_error rc;

	pthread_mutex_lock(&close_lock);
	rc = workbook_close(wb);
	pthread_mutex_unlock(&close_lock);
	return rc;
}
