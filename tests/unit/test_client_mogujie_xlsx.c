/* client/mogujie/mogujie_xlsx.c: a text longer than a cell holds is cut, never a failed workbook.
 * (Contents are read back by openpyxl and five spreadsheet programs in the integration tests
 * and make check-clients.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/mogujie/mogujie_xlsx.h"

static void test_oversized_title_still_makes_a_workbook(void **state)
{
	char dir[] = "/tmp/orderfs-mxlsx-XXXXXX", path[64];
	size_t n = 40000 * 3 + 256;
	char *json = malloc(n), *p;
	const char *bad = NULL;
	struct mogujie_row r = {0};
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/o.xlsx", dir);
	assert_non_null(json);
	strcpy(json, "{\"shopOrderId\":1,\"shopOrderPrice\":100,\"itemOrderInfos\":[{\"title\":\"");
	p = json + strlen(json);
	for (int i = 0; i < 40000; i++, p += 3)
		memcpy(p, "\xe5\x8a\xa0", 3); /* U+52A0: 40,000 characters, a cell holds 32,767 */
	strcpy(p, "\",\"itemOrderId\":2}]}");
	cJSON *o = cJSON_Parse(json);
	assert_non_null(o);
	cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "itemOrderInfos"), 0);
	assert_int_equal(mogujie_row_fill(&r, o, item, &bad), 0);
	struct mogujie_xlsx *x = mogujie_xlsx_open(path, dir, 1779062400);
	assert_non_null(x);
	assert_int_equal(mogujie_xlsx_add(x, &r), 0);
	assert_int_equal(mogujie_xlsx_close(x, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 1000);
	mogujie_row_free(&r);
	cJSON_Delete(o);
	free(json);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oversized_title_still_makes_a_workbook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
