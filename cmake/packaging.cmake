# install() rules and the Debian package (CPack DEB). scripts/package.sh configures a build with
# CMAKE_INSTALL_PREFIX=/usr (so the config lands in /etc) and runs cpack; docs/deployment.md,
# "Linux appliance".
include(GNUInstallDirs)

install(TARGETS trproxy RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names the installed binary and config wherever the prefix puts them.
set(BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
configure_file(${PROJECT_SOURCE_DIR}/deploy/systemd/trproxy.service.in ${PROJECT_BINARY_DIR}/trproxy.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/trproxy.service DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/trproxy.sysusers DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d
        RENAME trproxy.conf)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/trproxy.tmpfiles DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d
        RENAME trproxy.conf)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/trproxy.logrotate DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d
        RENAME trproxy)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/trproxy.yaml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/trproxy)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The reference the README links to, at the same relative path (README.md -> docs/).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(FILES ${PROJECT_SOURCE_DIR}/certs/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME CA.md)

# trproxy(1), made from --help and --version by help2man (packages.txt [build]).
find_program(HELP2MAN help2man)
find_program(GZIP gzip)
if(HELP2MAN AND GZIP)
  add_custom_command(
    OUTPUT ${PROJECT_BINARY_DIR}/trproxy.1.gz
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1
            --name "forward proxy enforcing Microsoft Entra tenant restrictions"
            --output ${PROJECT_BINARY_DIR}/trproxy.1 $<TARGET_FILE:trproxy>
    COMMAND ${GZIP} -9nf ${PROJECT_BINARY_DIR}/trproxy.1
    DEPENDS trproxy
    COMMENT "trproxy(1) from --help" VERBATIM)
  add_custom_target(manpage ALL DEPENDS ${PROJECT_BINARY_DIR}/trproxy.1.gz)
  install(FILES ${PROJECT_BINARY_DIR}/trproxy.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME trproxy)
set(CPACK_PACKAGE_VENDOR trproxy)
set(CPACK_PACKAGE_CONTACT "trproxy maintainers <trproxy@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "forward proxy enforcing Microsoft Entra tenant restrictions")
set(CPACK_PACKAGE_DESCRIPTION "trproxy TLS-intercepts only the Microsoft sign-in hosts, replaces the \
tenant-restriction headers with the configured policy's, and tunnels everything else untouched.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps; these are what the binary does not link:
# the CA bundle (upstream.trust: system) and /bin/kill (the unit's ExecReload).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates, procps")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/deploy/debian/conffiles;${PROJECT_SOURCE_DIR}/deploy/debian/postinst;${PROJECT_SOURCE_DIR}/deploy/debian/prerm;${PROJECT_SOURCE_DIR}/deploy/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
