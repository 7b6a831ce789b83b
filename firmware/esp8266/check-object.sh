#!/usr/bin/env bash
# Checks the device build of the core and app_logic.c, linked into one relocatable object, for
# what the device needs and the host build cannot show; prints the object's size and symbols.
#   check-object.sh PREFIX OBJECT ARCHIVE...   PREFIX: the cross binutils' (xtensa-lx106-elf-);
#   ARCHIVE: the target's C library and libgcc. Exit 1 on any of:
# 1. a symbol OBJECT leaves undefined that neither an ARCHIVE nor the chip's ROM defines: the
#    platform reaches the core only through struct fw_platform's function pointers
#    (fw_platform.h), so anything else undefined must come from the C library or the compiler's
#    helpers; a POSIX call or a host library would land here;
# 2. a defined global symbol not named fw_* or app_*: the object joins the SDK's image, whose
#    libraries name their symbols freely;
# 3. writable static data (.data, .bss): a device's state is in its fw_ctx, so devsim's devices
#    in one process share nothing, and the core takes no DRAM beyond the contexts;
# 4. a format conversion that needs more than newlib-nano, ESP8266_RTOS_SDK's default C library
#    level (sdkconfig.defaults keeps it), whose printf has neither 64-bit integer nor C99 formats
#    (ll, j, z, t, hh; L, q) nor floating point: such a value prints right on the host and as
#    garbage on the device.
set -euo pipefail
prefix=$1 object=$2
shift 2
fail=0
problem() { echo "check-object: $*" >&2; fail=1; }

# The compiler's helpers the ESP8266's mask ROM has and the lx106 libgcc.a therefore leaves out
# (integer division and 64-bit multiplication, soft float): the SDK's linker script gives their
# ROM addresses (ESP8266_RTOS_SDK's components/esp8266/ld/esp8266.rom.ld).
rom="__divsi3 __udivsi3 __umodsi3 __divdi3 __udivdi3 __umoddi3 __muldi3 __umulsidi3
     __addsf3 __subsf3 __mulsf3 __floatsisf __floatunsisf __fixunssfsi __extendsfdf2 __truncdfsf2
     __adddf3 __subdf3 __muldf3 __divdf3 __floatsidf __floatunsidf __fixdfsi __fixunsdfsi"
declare -A from # symbol -> where the device has it
for sym in $rom; do from[$sym]=ROM; done
while read -r sym; do from[$sym]=lib; done < <(for a in "$@"; do "${prefix}nm" -g --defined-only "$a"; done | awk 'NF == 3 { print $3 }')
echo "undefined symbols, each from the C library, libgcc or the ROM:"
for sym in $("${prefix}nm" -u "$object" | awk '{ print $2 }'); do
    case "${from[$sym]:-}" in
    lib) echo "  $sym" ;;
    ROM) echo "  $sym (ROM)" ;;
    *) problem "undefined and in neither $* nor the ROM: $sym" ;;
    esac
done

for sym in $("${prefix}nm" -g --defined-only "$object" | awk '{ print $3 }'); do
    case "$sym" in fw_* | app_*) ;; *) problem "global symbol outside fw_*/app_*: $sym" ;; esac
done

read -r text data bss _ < <("${prefix}size" "$object" | tail -n 1)
echo "code and constants: $text bytes; writable static data: $((data + bss)) bytes"
[ $((data + bss)) -eq 0 ] || problem "writable static data ($data bytes .data, $bss bytes .bss)"

# The text of the object's constants (string literals are in .rodata.*), one string a line.
constant_strings() {
    local section dumps=()
    for section in $("${prefix}readelf" -S -W "$object" | grep -oE '\] \.rodata[^ ]*' | cut -c3-); do
        dumps+=(-p "$section")
    done
    [ ${#dumps[@]} -eq 0 ] || "${prefix}readelf" "${dumps[@]}" "$object" | sed -n 's/^ *\[ *[0-9a-f]*\]  //p'
}
spec='%[-+ #0]*([0-9]+|\*)?(\.([0-9]+|\*)?)?(hh|h|ll|l|j|z|t|L|q)?[diouxXcspnaAeEfFgG]'
mapfile -t convs < <(constant_strings | sed 's/%%//g' | grep -oE -- "$spec" || true)
for conv in "${convs[@]}"; do
    case "$conv" in
    *hh? | *ll? | *[jztLq]?) problem "format conversion $conv: no such length modifier in newlib-nano" ;;
    *[aAeEfFgG]) problem "format conversion $conv: no floating point in newlib-nano" ;;
    esac
done
echo "format conversions: $(printf '%s\n' "${convs[@]}" | sort -u | tr '\n' ' ')"
exit $fail
