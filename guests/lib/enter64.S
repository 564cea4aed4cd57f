/*
 * For test guests entered in 16- or 32-bit mode: once they have saved what they observed, they come
 * here in 32-bit protected mode (flat segments) to switch to 64-bit long mode and run the 64-bit
 * checks. Uses the identity page tables at PAGE_TABLES (PML4 first) and the GDT of the file, which
 * has 64-bit code at selector 0x08, data at 0x10 and 32-bit code at 0x18. Paging is on from the
 * instruction after the write to CR0, so those tables must map this code (tests/real16.S, which
 * runs in the top page below 4 GiB, adds that mapping itself).
 */
	.set PAGE_TABLES, 0x1000
	.set MSR_EFER, 0xc0000080
	.set STACK_TOP, 0x80000

	.code32
	.text
	.globl enter64_and_check
enter64_and_check:
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	$PAGE_TABLES, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$0x100, %eax		/* LME */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax	/* PG | PE */
	mov	%eax, %cr0
	ljmp	$0x08, $1f
	.code64
1:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$STACK_TOP, %rsp
	lea	banner(%rip), %rdi
	call	puts
	call	check_context
	mov	%rax, %rdi
	jmp	report_and_exit

	.section .rodata
banner:	.asciz	"switched to long mode: checking the registers saved at entry\n"
