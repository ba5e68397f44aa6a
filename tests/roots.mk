# tests/roots.mk: the shared library that tests/unit/test_roots.c dlopens.
# The test looks for it beside its own executable.
ROOTS_FIXTURE := $(BUILD)/tests/unit/libroots_fixture.so

$(ROOTS_FIXTURE): tests/unit/libroots_fixture.c
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $<

$(BUILD)/tests/unit/test_roots: | $(ROOTS_FIXTURE)
