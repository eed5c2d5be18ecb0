/* client/clover/clover_xlsx.c: a workbook is written whatever the values, within a cell's limits.
 * (Its contents are read back with openpyxl and five spreadsheet programs in the integration
 * tests and make check-clients.) */
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

#include "../../client/clover/clover_xlsx.h"

static void test_odd_and_oversized_values_still_make_a_workbook(void **state)
{
	char dir[] = "/tmp/orderfs-xlsx-XXXXXX", path[64];
	struct stat st;
	size_t n = 40000 * 3 + 256; /* 40,000 three-byte characters: over a cell's 32,767 */
	char *json = malloc(n);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/o.xlsx", dir);
	assert_non_null(json);
	strcpy(json, "{\"id\":\"A1\",\"total\":1234,\"createdTime\":1779170000123,\"note\":\"");
	char *p = json + strlen(json);
	for (int i = 0; i < 40000; i++, p += 3)
		memcpy(p, "\xe5\x8a\xa0", 3); /* U+52A0 */
	*p = '\0';
	strcat(p, "\",\"title\":{\"odd\":[1,2]},\"isVat\":true,\"lineItems\":{\"elements\":[]}}");
	cJSON *el = cJSON_Parse(json);
	assert_non_null(el);
	struct clover_xlsx *x = clover_xlsx_open(CLOVER_ORDERS, path, dir, 1779062400);
	assert_non_null(x);
	assert_int_equal(clover_xlsx_add(x, el), 0);
	assert_int_equal(clover_xlsx_add(x, el), 0);
	assert_int_equal(clover_xlsx_close(x, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 1000);
	cJSON_Delete(el);
	free(json);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_odd_and_oversized_values_still_make_a_workbook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
