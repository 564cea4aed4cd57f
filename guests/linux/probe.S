/*
 * Boot-protocol probe: a tiny "kernel" for testing `igvm build linux`. The tests wrap it in a
 * bzImage (setup header + gzip-compressed ELF payload). Entered like a 64-bit Linux kernel, with
 * %rsi = boot_params, it prints what it was handed and exits through isa-debug-exit:
 *   the command line, the initrd address and size, the e820 table, and the processors of the MP table.
 */
	.code64
	.set BP_E820_ENTRIES, 0x1e8
	.set BP_E820_TABLE, 0x2d0
	.set BP_RAMDISK_IMAGE, 0x218
	.set BP_RAMDISK_SIZE, 0x21c
	.set BP_CMD_LINE_PTR, 0x228
	.set BP_EXT_RAMDISK_IMAGE, 0x0c0
	.set BP_EXT_RAMDISK_SIZE, 0x0c4
	.set MP_SEARCH, 0x9fc00

	.text
	.globl _start
_start:
	mov	%rsi, %r12
	lea	banner(%rip), %rdi
	call	puts
	mov	%r12, %rdi
	call	puthex
	mov	$'\n', %edi
	call	putc

	lea	s_cmdline(%rip), %rdi
	call	puts
	mov	BP_CMD_LINE_PTR(%r12), %edi
	call	puts
	lea	s_quote_nl(%rip), %rdi
	call	puts

	lea	s_initrd(%rip), %rdi
	call	puts
	mov	BP_EXT_RAMDISK_IMAGE(%r12), %edi
	shl	$32, %rdi
	mov	BP_RAMDISK_IMAGE(%r12), %eax
	or	%rax, %rdi
	call	puthex
	lea	s_size(%rip), %rdi
	call	puts
	mov	BP_EXT_RAMDISK_SIZE(%r12), %edi
	shl	$32, %rdi
	mov	BP_RAMDISK_SIZE(%r12), %eax
	or	%rax, %rdi
	call	puthex
	mov	$'\n', %edi
	call	putc

	movzbl	BP_E820_ENTRIES(%r12), %r13d
	lea	s_e820(%rip), %rdi
	call	puts
	mov	%r13, %rdi
	call	putdec
	mov	$'\n', %edi
	call	putc
	lea	BP_E820_TABLE(%r12), %r14
1:	test	%r13d, %r13d
	jz	2f
	lea	s_entry(%rip), %rdi
	call	puts
	mov	(%r14), %rdi
	call	puthex
	mov	$' ', %edi
	call	putc
	mov	8(%r14), %rdi
	call	puthex
	mov	$' ', %edi
	call	putc
	mov	16(%r14), %edi
	call	putdec
	mov	$'\n', %edi
	call	putc
	add	$20, %r14
	dec	%r13d
	jmp	1b

2:	/* MP table: count processor entries */
	lea	s_mp(%rip), %rdi
	call	puts
	mov	$MP_SEARCH, %rbx
	cmpl	$0x5f504d5f, (%rbx)		/* "_MP_" */
	jne	5f
	mov	4(%rbx), %ebx			/* configuration table */
	movzwl	34(%rbx), %ecx			/* entry count */
	lea	44(%rbx), %rsi
	xor	%r15d, %r15d
3:	test	%ecx, %ecx
	jz	4f
	cmpb	$0, (%rsi)
	jne	6f
	inc	%r15d
	add	$20, %rsi
	dec	%ecx
	jmp	3b
6:	add	$8, %rsi
	dec	%ecx
	jmp	3b
4:	mov	%r15, %rdi
	call	putdec
	lea	s_processors(%rip), %rdi
	call	puts
	xor	%edi, %edi
	call	exit_guest
5:	lea	s_nomp(%rip), %rdi
	call	puts
	mov	$2, %edi
	call	exit_guest

	.section .rodata
banner:		.asciz	"probe: entered through the 64-bit boot protocol, boot_params at "
s_cmdline:	.asciz	"probe: cmdline \""
s_quote_nl:	.asciz	"\"\n"
s_initrd:	.asciz	"probe: initrd "
s_size:		.asciz	" size "
s_e820:		.asciz	"probe: e820 entries "
s_entry:	.asciz	"probe: e820 "
s_mp:		.asciz	"probe: mp processors "
s_processors:	.asciz	"\nprobe: done\n"
s_nomp:		.asciz	"none (no MP floating pointer at 0x9fc00)\n"
